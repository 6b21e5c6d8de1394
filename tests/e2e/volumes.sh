#!/bin/bash
# Pod volumes end to end, for real: the real kubectl 1.32 against `minik8s server`
# with its in-process agent running real runc pods inside a "node" network
# namespace this test creates (the setup of pod_containers.sh).
# Covers: configMap volumes (all keys; items with path and mode) in the kubelet's
# atomic-writer layout (..data -> ..<timestamp>, KEY -> ..data/KEY) mounted
# read-only, a ConfigMap edit (kubectl apply) seen inside the running container
# while a subPath mount of the same key keeps its content; a secret volume with
# defaultMode 0400 (stat inside the pod) and its update (kubectl patch); a
# downwardAPI volume whose labels file follows `kubectl label`; a projected
# volume (configMap + secret + downwardAPI in one dir); emptyDir medium Memory as
# a tmpfs of sizeLimit (/proc/mounts inside the pod); a missing ConfigMap keeps
# the container in ContainerCreating with a FailedMount event until it is
# created, an optional one does not; hostile sub-paths: `../../etc` refused by
# the API (422), the same through subPathExpr and a symlink in the volume
# pointing outside (also `esc -> /` under subPath esc/etc) refused by the agent
# (the container waits, nothing mounted);
# fsGroup ownership of a secret volume; the mounts survive a kill -9 of the
# agent without doubling; a pod force-deleted while its agent (a second node)
# was killed loses its mounts when that agent starts again; none is left under
# the pod directories once the pods are deleted.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require volumes runc jq curl ip nsenter "$KUBECTL"
node_init vol 192.168.79.2

pod() { api GET "/api/v1/namespaces/default/pods/$1"; }
podq() { pod "$1"; jqb "$2"; }
wait_pod() { # wait_pod NAME JQ_BOOL TRIES(0.1s)
	local i
	for ((i = 0; i < $3; i++)); do
		[ "$(podq "$1" "$2")" == true ] && return 0
		sleep 0.1
	done
	return 1
}
# in POD CMD: a shell command inside the pod's (only) container
inpod() { K exec "$1" -- sh -c "$2" 2>&1; }
# wait_in TRIES(0.2s) POD CMD WANT: until the command's output is WANT
wait_in() {
	local n=$1 i; shift
	for ((i = 0; i < n; i++)); do
		[ "$(inpod "$1" "$2")" == "$3" ] && return 0
		sleep 0.2
	done
	return 1
}
# the mount points under the pods' directories, as the host sees them
pod_mounts() { awk -v p="$DATA/" 'index($5, p) == 1 && $5 ~ /\/pods\// && $5 !~ /\/containers\// {print $5}' /proc/self/mountinfo; }

node_up --restart-backoff 1s,4s

# ---- the example manifest passes the server's validation ----
expect_match "examples/volumes.yaml accepted (server-side dry run)" \
	"$(K apply --dry-run=server -f "$ROOT/examples/volumes.yaml" 2>&1 | tr '\n' ' ')" \
	'configmap/web-config created \(server dry run\) secret/web-token created \(server dry run\) pod/volumes-demo created \(server dry run\)'

# ---- the objects, through kubectl ----
cat >"$T/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: app-cfg}
data:
  game.properties: "lives=3\n"
  ui.ini: color=blue
EOF
K apply -f "$T/cm.yaml" >/dev/null 2>&1
check "kubectl apply configmap" K get configmap app-cfg
K create secret generic app-sec --from-literal=password=s3cret >/dev/null 2>&1
check "kubectl create secret" K get secret app-sec

cat >"$T/vols.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: vols
  labels: {app: web}
  annotations: {note: first}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: $IMG
    imagePullPolicy: Never
    command: [sh, -c, "exec sleep 3600"]
    resources: {limits: {memory: 64Mi}}
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: items, mountPath: /items}
    - {name: sec, mountPath: /sec}
    - {name: dapi, mountPath: /dapi}
    - {name: proj, mountPath: /proj}
    - {name: mem, mountPath: /mem}
    - {name: cfg, mountPath: /etc/game.properties, subPath: game.properties}
    - {name: scratch, mountPath: /deep, subPath: a/b}
  volumes:
  - name: cfg
    configMap: {name: app-cfg}
  - name: items
    configMap:
      name: app-cfg
      items: [{key: ui.ini, path: conf/ui.ini, mode: 0600}]
  - name: sec
    secret: {secretName: app-sec, defaultMode: 0400}
  - name: dapi
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: note, fieldRef: {fieldPath: "metadata.annotations['note']"}}
      - {path: mem_mi, resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
  - name: proj
    projected:
      sources:
      - configMap: {name: app-cfg, items: [{key: game.properties, path: game}]}
      - secret: {name: app-sec}
      - downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}
  - name: mem
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
  - name: scratch
    emptyDir: {}
EOF
K apply -f "$T/vols.yaml" >/dev/null 2>&1
if wait_pod vols '.status.phase=="Running"' 300; then pass "pod with every kind of volume Running"; else
	fail "pod with every kind of volume Running" "$(podq vols .status)"; fi

# What the container sees, gathered by one exec (kubectl exec costs a second or
# two here): NAME=output lines, the output's newlines turned into '|'.
cat >"$T/probe.sh" <<'EOF'
f() { printf '%s=%s\n' "$1" "$(eval "$2" 2>&1 | tr '\n' '|')"; }
f data 'readlink /cfg/..data'
f links 'readlink /cfg/game.properties; readlink /cfg/ui.ini'
f cfg 'cat /cfg/game.properties /cfg/ui.ini'
f cfgmode 'stat -L -c %a /cfg/ui.ini'
f cfgro 'touch /cfg/x && echo wrote'
f items 'cat /items/conf/ui.ini; echo; stat -L -c %a /items/conf/ui.ini; ls /items'
f sec 'cat /sec/password; echo; stat -L -c %a /sec/password'
f secmnt 'grep " /sec " /proc/mounts'
f dapi 'cat /dapi/labels; echo; cat /dapi/name; echo; cat /dapi/note; echo; cat /dapi/mem_mi'
f proj 'ls /proj; cat /proj/game /proj/password; echo; cat /proj/labels'
f mem 'grep " /mem " /proc/mounts'
f sub 'cat /etc/game.properties'
f deep 'touch /deep/f && ls -d /deep'
EOF
probe() { K exec -i "$1" -- sh -s <"$T/probe.sh" >"$T/probe.out" 2>&1; }
fact() { grep "^$1=" "$T/probe.out" | cut -d= -f2-; }
probe vols
# configMap: the atomic writer's layout, contents, read-only
expect_match "..data is a symlink to a timestamped dir" "$(fact data)" '^\.\.20[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{2}_[0-9]{2}\.'
expect_eq "top-level names are symlinks into ..data" "$(fact links)" '..data/game.properties|..data/ui.ini|'
expect_eq "configMap file contents" "$(fact cfg)" 'lives=3|color=blue'
expect_eq "configMap files 0644 by default" "$(fact cfgmode)" '644|'
expect_match "configMap volume is read-only" "$(fact cfgro)" 'Read-only file system'
expect_eq "items: key ui.ini at conf/ui.ini, mode 0600, nothing else" "$(fact items)" 'color=blue|600|conf|'
# secret: 0400 through defaultMode, on a tmpfs
expect_eq "secret file content and mode 0400 (defaultMode)" "$(fact sec)" 's3cret|400|'
expect_match "secret volume is a read-only tmpfs" "$(fact secmnt)" '^tmpfs /sec tmpfs ro'
# downwardAPI
expect_eq "downwardAPI labels, name, annotation, memory limit in Mi" "$(fact dapi)" 'app="web"|vols|first|64'
# projected
expect_eq "projected: configMap item, secret key and labels in one dir" "$(fact proj)" \
	'game|labels|password|lives=3|s3cret|app="web"'
# emptyDir Memory
expect_match "emptyDir medium Memory is a tmpfs of sizeLimit" "$(fact mem)" '^tmpfs /mem tmpfs rw.*size=16384k'
# subPath
expect_eq "subPath mount of a configMap key" "$(fact sub)" 'lives=3|'
expect_eq "subPath of a missing path is created as a directory" "$(fact deep)" '/deep|'

# ---- updates reach the running container ----
OLD_TS=$(inpod vols 'readlink /cfg/..data')
sed -i 's/lives=3/lives=9/' "$T/cm.yaml"
K apply -f "$T/cm.yaml" >/dev/null 2>&1
if wait_in 75 vols 'cat /cfg/game.properties' "lives=9"; then pass "ConfigMap edit (kubectl apply) seen in the running pod"; else
	fail "ConfigMap edit (kubectl apply) seen in the running pod" "$(inpod vols 'cat /cfg/game.properties')"; fi
NEW_TS=$(inpod vols 'readlink /cfg/..data')
[ "$NEW_TS" != "$OLD_TS" ] && pass "..data swapped to a new dir" || fail "..data swapped to a new dir" "$NEW_TS"
expect_eq "the old generation is removed" "$(inpod vols "ls -a /cfg | grep -c '^\.\.20'")" 1
wait_in 50 vols 'cat /proj/game' "lives=9"
expect_eq "projected configMap item updated" "$(inpod vols 'cat /proj/game')" "lives=9"
expect_eq "subPath mount keeps the content it started with" "$(inpod vols 'cat /etc/game.properties')" "lives=3"
K patch secret app-sec -p '{"data":{"password":"bmV3cGFzcw=="}}' >/dev/null 2>&1
if wait_in 75 vols 'cat /sec/password' "newpass"; then pass "Secret patch seen in the running pod"; else
	fail "Secret patch seen in the running pod" "$(inpod vols 'cat /sec/password')"; fi
expect_eq "secret file still 0400 after the update" "$(inpod vols 'stat -L -c %a /sec/password')" 400
K label pod vols tier=gold >/dev/null 2>&1
if wait_in 75 vols 'cat /dapi/labels' $'app="web"\ntier="gold"'; then pass "downwardAPI labels follow kubectl label"; else
	fail "downwardAPI labels follow kubectl label" "$(inpod vols 'cat /dapi/labels')"; fi
wait_in 50 vols 'cat /proj/labels' $'app="web"\ntier="gold"'
expect_eq "projected labels follow too" "$(inpod vols 'cat /proj/labels')" $'app="web"\ntier="gold"'

# ---- a missing ConfigMap: ContainerCreating until it exists; optional ones do not wait ----
cat >"$T/late.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: late}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  securityContext: {fsGroup: 2000}
  containers:
  - name: app
    image: $IMG
    imagePullPolicy: Never
    command: [sh, -c, "exec sleep 3600"]
    volumeMounts:
    - {name: late, mountPath: /late}
    - {name: opt, mountPath: /opt}
    - {name: s, mountPath: /s}
  volumes:
  - name: s
    secret: {secretName: app-sec, defaultMode: 0400}
  - name: late
    configMap: {name: late-cfg}
  - name: opt
    configMap: {name: not-there, optional: true}
EOF
K apply -f "$T/late.yaml" >/dev/null 2>&1
if wait_pod late '.status.containerStatuses[0].state.waiting.reason=="ContainerCreating"' 100; then
	pass "missing configMap: container waits in ContainerCreating"; else
	fail "missing configMap: container waits in ContainerCreating" "$(podq late .status.containerStatuses)"; fi
sleep 1
expect_eq "still no container started" "$(podq late '.status.containerStatuses[0].state.waiting.reason')" ContainerCreating
expect_match "FailedMount event names the configmap" \
	"$(K get events --field-selector involvedObject.name=late,reason=FailedMount -o jsonpath='{.items[*].message}' 2>&1)" \
	'configmap "late-cfg" not found'
K create configmap late-cfg --from-literal=k=v >/dev/null 2>&1
if wait_pod late '.status.phase=="Running"' 150; then pass "pod starts once the configmap exists"; else
	fail "pod starts once the configmap exists" "$(podq late .status.containerStatuses)"; fi
expect_eq "late configmap mounted; optional missing one is an empty dir" "$(inpod late 'cat /late/k; echo; ls /opt | wc -l')" $'v\n0'
expect_eq "fsGroup: secret file group-owned and group-readable (0400 -> 0440)" "$(inpod late 'stat -L -c "%a %g" /s/password')" "440 2000"

# ---- hostile sub-paths ----
cat >"$T/dotdot.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: dotdot}
spec:
  nodeName: $NODE
  containers:
  - name: app
    image: $IMG
    command: [sleep, "3600"]
    volumeMounts: [{name: w, mountPath: /x, subPath: ../../etc}]
  volumes:
  - {name: w, emptyDir: {}}
  - {name: c, configMap: {name: x, defaultMode: 4095, items: [{key: k, path: /abs}]}}
EOF
OUT=$(K apply -f "$T/dotdot.yaml" 2>&1)
expect_match "subPath ../../etc refused by the API (422 naming the field)" \
	"$OUT" "spec.containers\[0\].volumeMounts\[0\].subPath: Invalid value: \"../../etc\": must not contain '..'"
expect_match "bad configMap volume refused too (defaultMode, item path)" "$OUT" \
	"spec.volumes\[1\].configMap.defaultMode: Invalid value: 4095: must be a number between 0 and 0777 \(octal\), both inclusive.*spec.volumes\[1\].configMap.items\[0\].path: Invalid value: \"/abs\": must be a relative path"
cat >"$T/evil.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: evil}
spec:
  nodeName: $NODE
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: plant
    image: $IMG
    imagePullPolicy: Never
    command: [sh, -c, "ln -s /etc /w/abs && ln -s ../../../../../../../../etc /w/rel && ln -s / /w/esc && mkdir /w/ok && echo fine > /w/ok/f"]
    volumeMounts: [{name: w, mountPath: /w}]
  containers:
  - name: abs
    image: $IMG
    imagePullPolicy: Never
    command: [sleep, "3600"]
    volumeMounts: [{name: w, mountPath: /x, subPath: abs}]
  - name: rel
    image: $IMG
    imagePullPolicy: Never
    command: [sleep, "3600"]
    volumeMounts: [{name: w, mountPath: /x, subPath: rel/passwd}]
  - name: esc
    image: $IMG
    imagePullPolicy: Never
    command: [sleep, "3600"]
    volumeMounts: [{name: w, mountPath: /x, subPath: esc/etc}]
  - name: expr
    image: $IMG
    imagePullPolicy: Never
    command: [sleep, "3600"]
    env: [{name: P, value: ../../etc}]
    volumeMounts: [{name: w, mountPath: /x, subPathExpr: \$(P)}]
  - name: fine
    image: $IMG
    imagePullPolicy: Never
    command: [sleep, "3600"]
    env: [{name: D, value: ok}]
    volumeMounts: [{name: w, mountPath: /x, subPathExpr: \$(D)}]
  volumes: [{name: w, emptyDir: {}}]
EOF
K apply -f "$T/evil.yaml" >/dev/null 2>&1
evil_waiting() { [ "$(podq evil '[.status.containerStatuses[] | select(.state.waiting.reason=="CreateContainerConfigError")] | length')" == 4 ]; }
if wait_until 200 evil_waiting; then pass "hostile sub-paths: four containers wait (CreateContainerConfigError)"; else
	fail "hostile sub-paths: four containers wait (CreateContainerConfigError)" "$(podq evil .status.containerStatuses)"; fi
pod evil
expect_match "absolute symlink out of the volume refused" \
	"$(jqb '.status.containerStatuses[] | select(.name=="abs") | .state.waiting.message')" 'subPath "abs" resolves outside the volume'
expect_match "relative symlink climbing out refused" \
	"$(jqb '.status.containerStatuses[] | select(.name=="rel") | .state.waiting.message')" 'subPath "rel/passwd" resolves outside the volume'
expect_match "a symlink to / in the path (esc/etc) refused" \
	"$(jqb '.status.containerStatuses[] | select(.name=="esc") | .state.waiting.message')" 'subPath "esc/etc" resolves outside the volume'
expect_match "subPathExpr expanding to ../../etc refused" \
	"$(jqb '.status.containerStatuses[] | select(.name=="expr") | .state.waiting.message')" "must not contain '..'"
expect_eq "the well-behaved subPathExpr container runs" \
	"$(jqb '.status.containerStatuses[] | select(.name=="fine") | .state.running != null')" true
expect_eq "subPathExpr mounts the expanded sub-path" "$(K exec evil -c fine -- cat /x/f 2>&1)" fine
EVIL_UID=$(jqb .metadata.uid)
expect_eq "no subPath mount made for the refused containers" \
	"$(pod_mounts | grep "$EVIL_UID/volume-subpaths" | grep -cv '/fine/')" 0
expect_eq "nothing of /etc mounted for the pod" "$(awk -v u="$EVIL_UID" 'index($5,u) && $4 ~ /^\/etc/' /proc/self/mountinfo | wc -l)" 0

# ---- the agent crashes: mounts are taken over, not doubled; updates go on ----
VOLS_UID=$(podq vols .metadata.uid)
BEFORE=$(pod_mounts | grep -c "$VOLS_UID")
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
node_start || { fail "server restarts" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server restarts after kill -9"
K create configmap app-cfg --from-literal=game.properties=lives=1 --dry-run=client -o yaml 2>/dev/null | K apply -f - >/dev/null 2>&1
if wait_in 100 vols 'cat /cfg/game.properties' "lives=1"; then pass "after the restart: updates still reach the pod"; else
	fail "after the restart: updates still reach the pod" "$(inpod vols 'cat /cfg/game.properties')"; fi
expect_eq "after the restart: no mount doubled" "$(pod_mounts | grep -c "$VOLS_UID")" "$BEFORE"
expect_eq "after the restart: ui.ini gone from the volume (not in the new data)" "$(inpod vols 'ls /cfg')" game.properties

# ---- an agent killed, its pod force-deleted meanwhile: the next agent unmounts ----
"$MINIK8S" image --data-dir "$T/data2" import --name test/busybox "$T/img/busybox-oci.tar" >/dev/null 2>&1
KPORT2=$(free_port)
start_agent2() {
	"${IN[@]}" "$MINIK8S" agent --server "$API" --token "$(cat "$DATA/node-token")" --node-name node2 \
		--node-ip 192.168.79.3 --data-dir "$T/data2" --run-dir "$T/run2" --netns-dir "$T/netns2" \
		--cgroup-parent "$CG/node2" --bridge mk1 --kubelet-port "$KPORT2" \
		--disable-proxy --disable-dns >>"$T/agent2.log" 2>&1 &
	AGENT2_PID=$!
	_PIDS+=("$AGENT2_PID")
}
node2_mounts() { awk -v p="$T/data2/pods/" 'index($5, p) == 1 && $5 !~ /\/containers\// {print $5}' /proc/self/mountinfo; }
start_agent2
sed -e 's/^metadata: {name: late}/metadata: {name: orphan}/' -e "s/nodeName: $NODE/nodeName: node2/" "$T/late.yaml" >"$T/orphan.yaml"
K apply -f "$T/orphan.yaml" >/dev/null 2>&1
if wait_pod orphan '.status.phase=="Running"' 300; then pass "pod on a second agent Running"; else
	fail "pod on a second agent Running" "$(podq orphan .status) $(tail -3 "$T/agent2.log")"; fi
ORPHAN_UID=$(podq orphan .metadata.uid)
N2=$(node2_mounts | grep -c "$ORPHAN_UID")
[ "$N2" -ge 1 ] && pass "its secret volume is a tmpfs on the host" || fail "its secret volume is a tmpfs on the host" "$N2"
kill -9 "$AGENT2_PID"; wait "$AGENT2_PID" 2>/dev/null
api DELETE "/api/v1/namespaces/default/pods/orphan?gracePeriodSeconds=0"
pod orphan
expect_eq "pod force-deleted while its agent is down" "$HTTP_CODE" 404
start_agent2
wait_empty 150 node2_mounts
expect_eq "the restarted agent removed the orphan's mounts" "$(node2_mounts | wc -l)" 0
wait_empty 100 runc --root "$T/run2/runc" list -q
expect_eq "and its container and pod directory" \
	"$(runc --root "$T/run2/runc" list -q 2>/dev/null | wc -l) $(ls "$T/data2/pods" 2>/dev/null | wc -l)" "0 0"
kill -TERM "$AGENT2_PID"; wait "$AGENT2_PID" 2>/dev/null

# ---- teardown: no mount left ----
[ "$BEFORE" -ge 4 ] && pass "the pod had its tmpfs and subPath mounts ($BEFORE)" || fail "the pod had its tmpfs and subPath mounts" "$BEFORE"
for p in vols late evil; do api DELETE "/api/v1/namespaces/default/pods/$p?gracePeriodSeconds=1"; done
gone() { [ "$(api GET /api/v1/namespaces/default/pods; jqb '.items | length')" == 0 ]; }
wait_until 300 gone || fail "pods deleted" "$(jqb '[.items[].metadata.name] | join(" ")')"
wait_empty 100 pod_mounts
expect_eq "no mount left under the pod directories" "$(pod_mounts | wc -l)" 0
expect_eq "no mount left under the run dir" "$(awk -v p="$RUN/" 'index($5, p) == 1' /proc/self/mountinfo | wc -l)" 0
expect_eq "pod directories removed" "$(ls "$DATA"/pods 2>/dev/null | wc -l; ls "$DATA"/agent/pods 2>/dev/null | wc -l)" $'0\n0'
stop_server TERM
done_testing
