#!/bin/bash
# kubectl top end to end: metrics.k8s.io/v1beta1 served by the API server from the
# agent's /metrics/resource (cgroup figures of real runc containers), with the real
# kubectl 1.32 and the Python client. One `minik8s server` with its in-process agent
# in a "node" network namespace this test creates (own data dir, run dir, netns dir,
# cgroup parent), scraping every 1 s (--metric-resolution). Pods: "busy" (a container
# burning CPU in a shell loop for a bounded time, and an idle sidecar) and "idle".
# Checks: the agent's endpoint (Prometheus text, client certificate required),
# discovery, kubectl top nodes / pods (-A, -l, --sort-by, --containers), the busy
# pod measured above 200m and above the idle one, the JSON shape of NodeMetrics and
# PodMetrics, selectors, 404s, write verbs and watch refused with 405, the node
# token's rights, "metrics not available yet", kubectl explain, CustomObjectsApi.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require "metrics top" runc jq curl ip nsenter gzip "$KUBECTL"
node_init mt 192.168.79.2
M=/apis/metrics.k8s.io/v1beta1

# a one-layer busybox OCI image with the few applets the pods run, built here (the
# shared fixture builders make far more than this test needs, and take long)
build_image() {
	local d=$T/img r=$T/img-rootfs l c m a
	mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp" || return 1
	cp /bin/busybox "$r/bin/busybox" || return 1
	for a in sh sleep timeout; do ln -s busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
	mkdir -p "$d/blobs/sha256"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$d/oci-layout"
	tar -C "$r" --sort=name --owner=0 --group=0 --numeric-owner -cf "$T/layer.tar" . || return 1
	local diff; diff=$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
	gzip -n -c "$T/layer.tar" >"$T/layer.tgz"
	l=$(sha256sum "$T/layer.tgz" | cut -d' ' -f1); cp "$T/layer.tgz" "$d/blobs/sha256/$l"
	jq -c -n --arg d "sha256:$diff" '{architecture:"amd64",os:"linux",
	  config:{Env:["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],Cmd:["sh"]},rootfs:{type:"layers",diff_ids:[$d]}}' >"$T/cfg.json"
	c=$(sha256sum "$T/cfg.json" | cut -d' ' -f1); cp "$T/cfg.json" "$d/blobs/sha256/$c"
	jq -c -n --arg c "sha256:$c" --argjson cs "$(stat -c %s "$T/cfg.json")" --arg l "sha256:$l" \
		--argjson ls "$(stat -c %s "$T/layer.tgz")" \
		'{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
		  config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},
		  layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$l,size:$ls}]}' >"$T/man.json"
	m=$(sha256sum "$T/man.json" | cut -d' ' -f1); cp "$T/man.json" "$d/blobs/sha256/$m"
	jq -c -n --arg m "sha256:$m" --argjson s "$(stat -c %s "$T/man.json")" \
		'{schemaVersion:2,manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",
		  digest:$m,size:$s,annotations:{"org.opencontainers.image.ref.name":"latest"}}]}' >"$d/index.json"
	tar -C "$d" -cf "$T/busybox-oci.tar" .
}
build_image || { fail "build test image"; exit 1; }
IMG=$("$MINIK8S" image --data-dir "$DATA" import --name test/busybox "$T/busybox-oci.tar" 2>&1)
expect_eq "busybox image imported" "$IMG" "docker.io/test/busybox:latest"

node_start --disable-dns --metric-resolution 1s || { fail "server with agent starts" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server with agent starts"

# pod NAME LABEL CONTAINERS_JSON
pod() {
	jq -c -n --arg n "$1" --arg node "$NODE" --arg app "$2" --argjson cs "$3" \
		'{apiVersion:"v1",kind:"Pod",metadata:{name:$n,labels:{app:$app}},
		  spec:{nodeName:$node,terminationGracePeriodSeconds:1,containers:$cs}}'
}
ctr() { jq -c -n --arg n "$1" --arg img "$IMG" --arg s "$2" \
	'{name:$n,image:$img,imagePullPolicy:"Never",command:["sh","-c",$s]}'; }
# shell loops burn CPU for at most 300 s (bounded: long enough for a slow run of
# this test on a loaded machine), then the container idles
# (two loops: on a busy machine the container still gets a fair share of CPU)
BURN=$(ctr burn 'for i in 1 2; do timeout -s KILL 300 sh -c "while :; do :; done" & done; wait; exec sleep 3600')
SIDE=$(ctr side 'exec sleep 3600')
IDLE=$(ctr idle 'exec sleep 3600')
api_json POST /api/v1/namespaces/default/pods "$(pod busy busy "[$BURN,$SIDE]")"
expect_code "create busy pod" 201
api_json POST /api/v1/namespaces/default/pods "$(pod idle idle "[$IDLE]")"
expect_code "create idle pod" 201

running() { api GET "/api/v1/namespaces/default/pods/$1"; [ "$(jqb .status.phase)" = Running ]; }
if wait_until 300 running busy && wait_until 100 running idle; then pass "pods running"
else fail "pods running" "busy: $(api GET /api/v1/namespaces/default/pods/busy; jqb .status)"; fi

# ---- the agent's endpoint ------------------------------------------------------------
KCERT=$DATA/tls/apiserver-kubelet-client.crt
KKEY=$DATA/tls/apiserver-kubelet-client.key
AGENT=https://$NODE_IP:10250
text=$(curl -sk --cert "$KCERT" --key "$KKEY" "$AGENT/metrics/resource")
expect_match "agent: container cpu sample with labels and timestamp" "$text" \
	$'\ncontainer_cpu_usage_seconds_total\\{container="burn",namespace="default",pod="busy"\\} [0-9]+\\.[0-9]{9} [0-9]{13}\n'
expect_match "agent: container working set" "$text" \
	$'\ncontainer_memory_working_set_bytes\\{container="idle",namespace="default",pod="idle"\\} [1-9][0-9]* [0-9]{13}\n'
expect_match "agent: node CPU" "$text" $'\nnode_cpu_usage_seconds_total [0-9]+\\.[0-9]{9} [0-9]{13}\n'
expect_match "agent: node memory" "$text" $'\nnode_memory_working_set_bytes [1-9][0-9]* [0-9]{13}\n'
expect_match "agent: pod sum" "$text" $'\npod_memory_working_set_bytes\\{namespace="default",pod="busy"\\} [1-9]'
expect_match "agent: start time" "$text" 'container_start_time_seconds\{container="side",namespace="default",pod="busy"\} 1[0-9]{9}\.'
code=$(curl -sk -o /dev/null -w '%{http_code}' "$AGENT/metrics/resource")
expect_eq "agent: no client certificate is a 401" "$code" 401
code=$(curl -sk --cert "$KCERT" --key "$KKEY" -X POST -o /dev/null -w '%{http_code}' "$AGENT/metrics/resource")
expect_eq "agent: POST is a 405" "$code" 405

# ---- discovery -------------------------------------------------------------------------
api GET /apis
expect_eq "discovery: /apis lists metrics.k8s.io v1beta1" \
	"$(jqb '.groups[] | select(.name=="metrics.k8s.io") | .preferredVersion.groupVersion')" "metrics.k8s.io/v1beta1"
api GET "$M"
expect_eq "discovery: APIResourceList" \
	"$(jqb '[.resources[] | "\(.name):\(.kind):\(.namespaced):\(.verbs|join(","))"] | join(" ")')" \
	"nodes:NodeMetrics:false:get,list pods:PodMetrics:true:get,list"
out=$(K api-resources --api-group=metrics.k8s.io --no-headers 2>&1)
expect_match "kubectl api-resources" "$out" 'nodes +metrics.k8s.io/v1beta1 +false +NodeMetrics'

# ---- kubectl top ----------------------------------------------------------------------
# the busy pod's rate over a window, measured; polled (bounded) until the scraper
# has two samples of each pod and the burner has run for a whole window
mcpu() { # kubectl's CPU column in millicores: "250m" -> 250, "1" -> 1000
	case $1 in *m) echo "${1%m}" ;; *[!0-9]*|'') echo x ;; *) echo $(($1 * 1000)) ;; esac
}
top_ready() {
	TOP=$(K top pods --no-headers 2>&1) || return 1
	BUSY=$(mcpu "$(awk '$1=="busy"{print $2}' <<<"$TOP")")
	IDLEC=$(mcpu "$(awk '$1=="idle"{print $2}' <<<"$TOP")")
	num_cmp "$BUSY" '>=' 200 && num_cmp "$IDLEC" '>=' 0
}
if wait_until 200 top_ready; then pass "kubectl top pods lists both pods"
else fail "kubectl top pods lists both pods" "got '$TOP'"; fi
if num_cmp "$BUSY" '>' "$IDLEC"; then pass "busy pod uses more CPU than the idle one (${BUSY}m > ${IDLEC}m)"
else fail "busy pod uses more CPU than the idle one" "busy ${BUSY}m idle ${IDLEC}m"; fi
out=$(K top pods 2>&1 | head -1)
expect_match "top pods header" "$out" '^NAME +CPU\(cores\) +MEMORY\(bytes\) *$'
expect_match "top pods: memory in Mi" "$(awk '$1=="idle"{print $3}' <<<"$TOP")" '^[0-9]+Mi$'

out=$(K top nodes 2>&1)
expect_match "top nodes header" "$(head -1 <<<"$out")" '^NAME +CPU\(cores\) +CPU\(%\) +MEMORY\(bytes\) +MEMORY\(%\) *$'
row=$(awk -v n="$NODE" '$1==n' <<<"$out")
ncpu=$(mcpu "$(awk '{print $2}' <<<"$row")")
nmem=$(awk '{print $4}' <<<"$row")
if num_cmp "$ncpu" '>' 0 && [[ "$nmem" =~ ^[1-9][0-9]*Mi$ ]]; then pass "top nodes: non-zero CPU and memory ($row)"
else fail "top nodes: non-zero CPU and memory" "got '$out'"; fi
out=$(K top node "$NODE" --no-headers 2>&1)
expect_match "top node NAME" "$out" "^$NODE +[0-9]+m? +[0-9]+% +[0-9]+Mi +[0-9]+%"

out=$(K top pod busy --containers --no-headers 2>&1)
expect_match "top pod --containers: burn" "$out" '(^|'$'\n'')busy +burn +[0-9]+m +[0-9]+Mi'
expect_match "top pod --containers: side" "$out" '(^|'$'\n'')busy +side +[0-9]+m +[0-9]+Mi'
out=$(K top pods -A --no-headers 2>&1)
expect_match "top pods -A has the namespace column" "$out" '(^|'$'\n'')default +busy +[0-9]+m'
out=$(K top pods -l app=idle --no-headers 2>&1)
expect_eq "top pods -l app=idle" "$(awk '{print $1}' <<<"$out")" "idle"
out=$(K top pods --sort-by=cpu --no-headers 2>&1)
expect_eq "top pods --sort-by=cpu: busy first" "$(head -1 <<<"$out" | awk '{print $1}')" busy
out=$(K top pods --sort-by=memory --no-headers 2>&1)
expect_eq "top pods --sort-by=memory: both listed" "$(awk '{print $1}' <<<"$out" | sort | tr '\n' ' ')" "busy idle "

# kubectl 1.20 (Debian's kubernetes-client, unpacked by scripts/deps.sh test)
OLD_KUBECTL=${OLD_KUBECTL:-/opt/minik8s/kubernetes-client/usr/bin/kubectl}
if [ -x "$OLD_KUBECTL" ]; then
	out=$("${IN[@]}" timeout 30 "$OLD_KUBECTL" --kubeconfig "$KUBECONFIG" top nodes --no-headers 2>&1)
	expect_match "kubectl 1.20 top nodes" "$out" "^$NODE +[1-9][0-9]*m? +[0-9]+% +[1-9][0-9]*Mi +[0-9]+%"
	out=$("${IN[@]}" timeout 30 "$OLD_KUBECTL" --kubeconfig "$KUBECONFIG" top pods --containers --no-headers 2>&1)
	expect_match "kubectl 1.20 top pods --containers" "$out" '(^|'$'\n'')busy +burn +[0-9]+m +[0-9]+Mi'
else
	fail "kubectl 1.20 top" "$OLD_KUBECTL missing (sh scripts/deps.sh test unpacks Debian's kubernetes-client)"
fi

# ---- the API's objects ---------------------------------------------------------------------
out=$(K get --raw "$M/nodes" 2>&1)
expect_eq "NodeMetricsList shape" "$(jq -r '[.kind, .apiVersion, (.items|length|tostring), .items[0].kind,
	.items[0].metadata.name] | join(" ")' <<<"$out" 2>&1)" "NodeMetricsList metrics.k8s.io/v1beta1 1 NodeMetrics $NODE"
expect_match "NodeMetrics usage, window, timestamp" "$(jq -r '.items[0] | [.usage.cpu, .usage.memory, .window,
	.timestamp, .metadata.creationTimestamp] | join(" ")' <<<"$out" 2>&1)" \
	'^[1-9][0-9]*[num]? [1-9][0-9]*(Ki|Mi)? [0-9.]+m?s 20[0-9-]{8}T[0-9:]{8}Z 20[0-9-]{8}T[0-9:]{8}Z$'
# kubectl get asks for a Table: metrics-server's columns
out=$(K get podmetrics 2>&1)
expect_match "kubectl get podmetrics: Table columns" "$(head -1 <<<"$out")" '^NAME +CPU +MEMORY +WINDOW *$'
expect_match "kubectl get podmetrics: busy row" "$out" $'\nbusy +[0-9]+[num]? +[1-9][0-9]*(Ki|Mi)? +[0-9.]+m?s'
out=$(K get nodemetrics "$NODE" --no-headers 2>&1)
expect_match "kubectl get nodemetrics NAME" "$out" "^$NODE +[1-9][0-9]*[num]? +[1-9][0-9]*(Ki|Mi)? +[0-9.]+m?s"
api GET "$M/namespaces/default/pods/busy"
expect_eq "PodMetrics shape" "$(jqb '[.kind, .metadata.namespace, .metadata.name, .metadata.labels.app,
	([.containers[].name]|sort|join(","))] | join(" ")')" "PodMetrics default busy busy burn,side"
expect_match "PodMetrics container usage" "$(jqb '.containers[0].usage | "\(.cpu) \(.memory)"')" \
	'^[0-9]+[num]? [1-9][0-9]*(Ki|Mi)?$'
api GET "$M/pods?fieldSelector=metadata.name%3Didle"
expect_eq "fieldSelector metadata.name" "$(jqb '[.items[].metadata.name] | join(",")')" idle
api GET "$M/namespaces/default/pods?labelSelector=app%3Dbusy"
expect_eq "labelSelector" "$(jqb '[.items[].metadata.name] | join(",")')" busy
api GET "$M/nodes?fieldSelector=spec.unschedulable%3Dtrue"
expect_status "unsupported field selector is a 400" 400 BadRequest
api GET "$M/namespaces/default/pods/nope"
expect_status "unknown pod is a 404" 404 NotFound
expect_eq "404 names podmetrics.metrics.k8s.io" "$(jqb .message)" 'podmetrics.metrics.k8s.io "default/nope" not found'
api GET "$M/nodes/nope"
expect_status "unknown node is a 404" 404 NotFound

api_json POST "$M/nodes" '{"apiVersion":"metrics.k8s.io/v1beta1","kind":"NodeMetrics","metadata":{"name":"x"}}'
expect_status "POST nodes is a 405" 405 MethodNotAllowed
api DELETE "$M/namespaces/default/pods/busy"
expect_status "DELETE a PodMetrics is a 405" 405 MethodNotAllowed
api_json PATCH "$M/nodes/$NODE" '{}' -H 'Content-Type: application/merge-patch+json'
expect_status "PATCH is a 405" 405 MethodNotAllowed
api GET "$M/pods?watch=true"
expect_status "watch is a 405" 405 MethodNotAllowed
out=$(K delete --raw "$M/nodes/$NODE" 2>&1)
expect_match "kubectl delete --raw is refused" "$out" 'MethodNotAllowed|not allow'

# the in-process agent's own credential (system:node:node1)
NODETOKEN=$(cat "$DATA/agent/node-credential" 2>/dev/null)
code=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $NODETOKEN" -o /dev/null -w '%{http_code}' "$API$M/nodes")
expect_eq "a node may read metrics" "$code" 200
code=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $NODETOKEN" -X POST -H 'Content-Type: application/json' \
	-d '{}' -o /dev/null -w '%{http_code}' "$API$M/namespaces/default/pods")
expect_eq "a node may not write metrics (403)" "$code" 403
code=$(curl -s --cacert "$CACERT" -o /dev/null -w '%{http_code}' "$API$M/nodes")
expect_eq "anonymous is a 401" "$code" 401

# a pod that never runs (bound to a node that does not exist): no figures
api_json POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fresh"}}'
api_json POST /api/v1/namespaces/fresh/pods "$(pod waiting w "[$IDLE]" | jq -c '.spec.nodeName="ghost"')"
out=$(K top pods -n fresh 2>&1)
expect_match "top pods without figures: metrics not available yet" "$out" 'metrics not available yet'

out=$(K explain podmetrics.containers 2>&1)
expect_match "kubectl explain podmetrics.containers" "$out" 'KIND: +PodMetrics'
expect_match "kubectl explain: the field's type" "$out" 'FIELD: +containers +<\[\]ContainerMetrics>'

# the Python client (CustomObjectsApi), as a dashboard or an autoscaler reads it
PY=/usr/bin/python3
if "$PY" -c 'import kubernetes' 2>/dev/null; then
	out=$("${IN[@]}" env KUBECONFIG="$KUBECONFIG" timeout 30 "$PY" - "$NODE" 2>&1 <<'PY'
import sys
from kubernetes import client, config
config.load_kube_config()
api = client.CustomObjectsApi()
nodes = api.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
pods = api.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", "default", "pods")
print(nodes["kind"], [n["metadata"]["name"] for n in nodes["items"]] == [sys.argv[1]],
      sorted(p["metadata"]["name"] for p in pods["items"]))
PY
)
	expect_eq "python CustomObjectsApi lists node and pod metrics" "$out" "NodeMetricsList True ['busy', 'idle']"
else
	fail "python CustomObjectsApi" "python3-kubernetes missing (scripts/deps.sh test)"
fi

# a deleted pod's figures go with it
api DELETE /api/v1/namespaces/default/pods/idle
gone() { api GET "$M/namespaces/default/pods/idle"; [ "$HTTP_CODE" = 404 ]; }
if wait_until 150 gone; then pass "deleted pod's metrics go away"; else fail "deleted pod's metrics go away" "$BODY"; fi

done_testing
