#!/bin/bash
# Node agent end to end, for real (root, runc, network namespaces, overlayfs):
# `minik8s server` with its in-process agent runs inside a "node" network
# namespace this test creates (nsenter --net only: mounts stay visible to the
# test), with its own data dir, run dir, netns dir, cgroup parent and bridge.
# Covers node registration and heartbeat, a pod serving HTTP reachable from
# another pod, downward-API env and /etc files, readiness, restart on crash with
# back-off, image pull failure, liveness restarts, deletion leaving no trace,
# force deletion while the agent is down, and adoption after kill -9.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require "agent pods" runc jq curl ip nsenter busybox
# on failure (or with AGENT_E2E_LOGS set), show what the agents said
NODE_LOGS=("$T/agent2.log")
NODE_SHOW_LOGS=${AGENT_E2E_LOGS:-}
node_init node 192.168.77.2
rc() { runc --root "$RUN/runc" "$@"; }

# pod_json NAME EXTRA_SPEC_JSON: a pod bound to the node
pod_json() {
	jq -c -n --arg n "$1" --arg node "$NODE" --arg img "$IMG" --argjson x "$2" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n,labels:{app:$n}},
	   spec:({nodeName:$node,terminationGracePeriodSeconds:3,
	          containers:[{name:"c",image:$img,imagePullPolicy:"Never"}]} * $x)}'
}
create_pod() { api_json POST /api/v1/namespaces/default/pods "$(pod_json "$1" "$2")"; }
pod() { api GET "/api/v1/namespaces/default/pods/$1"; }
# jq over pod NAME
podq() { pod "$1"; jqb "$2"; }
wait_pod() { # wait_pod NAME JQ_BOOL TRIES(0.1s)
	local i
	for ((i = 0; i < $3; i++)); do
		[ "$(podq "$1" "$2")" == true ] && return 0
		sleep 0.1
	done
	return 1
}

node_up --restart-backoff 1s,4s

# ---- node registration ----
api GET /api/v1/nodes/$NODE
expect_code "node registered" 200
NODE_UID=$(jqb .metadata.uid)
CIDR=$(jqb .spec.podCIDR)
expect_match "node got a pod CIDR" "$CIDR" '^10\.244\.[0-9]+\.0/24$'
expect_eq "node Ready" "$(jqb '.status.conditions[] | select(.type=="Ready") | .status')" True
expect_eq "node InternalIP" "$(jqb '.status.addresses[] | select(.type=="InternalIP") | .address')" "$NODE_IP"
expect_eq "node capacity pods" "$(jqb .status.capacity.pods)" 110
expect_eq "node kubeletVersion" "$(jqb .status.nodeInfo.kubeletVersion)" "v1.32.0-minik8s"
expect_match "node runtime version" "$(jqb .status.nodeInfo.containerRuntimeVersion)" '^runc://[0-9]'
expect_eq "node kubelet port" "$(jqb .status.daemonEndpoints.kubeletEndpoint.Port)" 10250
expect_match "node cpu/memory" "$(jqb '.status.capacity.cpu + " " + .status.capacity.memory')" '^[0-9]+ [0-9]+Ki$'
HB1=$(jqb '.status.conditions[] | select(.type=="Ready") | .lastHeartbeatTime')
api GET /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$NODE
LEASE1=$(jqb .spec.renewTime)
expect_eq "node lease held by the node" "$(jqb '.spec.holderIdentity + " " + (.spec.leaseDurationSeconds|tostring) + " " + .metadata.ownerReferences[0].kind')" "$NODE 40 Node"
BR_ADDR=$("${IN[@]}" ip -4 -o addr show dev mk0 | awk '{print $4}')
expect_eq "bridge has the CIDR's first address" "$BR_ADDR" "${CIDR%.0/24}.1/24"
expect_eq "ip_forward on in the node namespace" "$("${IN[@]}" cat /proc/sys/net/ipv4/ip_forward)" 1

# ---- a web pod: HTTP, readiness, downward API, /etc files ----
create_pod web '{"containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never",
  "command":["sh","-c","mkdir -p /www && echo hello-from-$POD_NAME > /www/index.html && exec httpd -f -p 80 -h /www"],
  "ports":[{"containerPort":80,"name":"http"}],
  "workingDir":"/tmp",
  "env":[{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
         {"name":"POD_NS","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}},
         {"name":"POD_IP","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}},
         {"name":"HOST_IP","valueFrom":{"fieldRef":{"fieldPath":"status.hostIP"}}},
         {"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}},
         {"name":"UID","valueFrom":{"fieldRef":{"fieldPath":"metadata.uid"}}},
         {"name":"GREETING","value":"hi $(POD_NAME)"}],
  "readinessProbe":{"httpGet":{"port":"http","path":"/"},"periodSeconds":1},
  "livenessProbe":{"tcpSocket":{"port":80},"initialDelaySeconds":1,"periodSeconds":1,"failureThreshold":2}}]}'
expect_code "web pod created" 201
if wait_pod web '.status.phase=="Running" and ([.status.conditions[]|select(.type=="Ready")][0].status=="True")' 200; then
	pass "web pod Running and Ready"
else
	fail "web pod Running and Ready" "$(podq web .status)"
fi
pod web
WEB_IP=$(jqb .status.podIP)
WEB_UID=$(jqb .metadata.uid)
WEB_CID=$(jqb '.status.containerStatuses[0].containerID' | sed 's#^runc://##')
expect_match "web pod IP from the node CIDR" "$WEB_IP" "^${CIDR%.0/24}\.[0-9]+$"
expect_eq "hostIP" "$(jqb .status.hostIP)" "$NODE_IP"
expect_eq "containerStatus ready/started" "$(jqb '.status.containerStatuses[0] | "\(.ready) \(.started) \(.restartCount)"')" "true true 0"
expect_match "containerStatus running since" "$(jqb '.status.containerStatuses[0].state.running.startedAt')" '^20[0-9-]+T'
ENV=$(rc exec "$WEB_CID" env 2>&1)
expect_match "downward env pod name/ns" "$ENV" "POD_NAME=web"$'\n'"(.*"$'\n'")?POD_NS=default"
expect_match "downward env pod IP" "$ENV" "POD_IP=$WEB_IP"
expect_match "downward env host IP and node" "$ENV" "HOST_IP=$NODE_IP"$'\n'"(.*"$'\n'")?NODE=$NODE"
expect_match "downward env uid" "$ENV" "UID=$WEB_UID"
expect_match "env \$(VAR) expansion" "$ENV" "GREETING=hi web"
expect_eq "workingDir" "$(rc exec "$WEB_CID" pwd 2>&1)" /tmp
RESOLV=$(rc exec "$WEB_CID" cat /etc/resolv.conf 2>&1)
expect_match "resolv.conf nameserver" "$RESOLV" "nameserver 10.96.0.10"
expect_match "resolv.conf search" "$RESOLV" "search default.svc.cluster.local svc.cluster.local cluster.local"
expect_match "resolv.conf ndots" "$RESOLV" "options ndots:5"
expect_eq "hostname" "$(rc exec "$WEB_CID" hostname 2>&1)" web
expect_match "/etc/hosts has the pod" "$(rc exec "$WEB_CID" cat /etc/hosts 2>&1)" "$WEB_IP"$'\t'"web"
expect_eq "HTTP from the node" "$(curl -s -m 5 "http://$WEB_IP/")" "hello-from-web"

# ---- a second pod reaches the first ----
create_pod client '{"containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never",
  "command":["sh","-c","for i in $(seq 50); do wget -q -O- http://'"$WEB_IP"'/ && break; sleep 0.2; done; exec sleep 3600"]}]}'
expect_code "client pod created" 201
wait_pod client '.status.phase=="Running"' 200 || fail "client pod Running" "$(podq client .status)"
pod client
CLIENT_IP=$(jqb .status.podIP)
CLIENT_CID=$(jqb '.status.containerStatuses[0].containerID' | sed 's#^runc://##')
[ "$CLIENT_IP" != "$WEB_IP" ] && pass "pods get distinct IPs" || fail "pods get distinct IPs" "$CLIENT_IP"
expect_eq "pod to pod HTTP (exec wget)" "$(rc exec "$CLIENT_CID" wget -q -O- "http://$WEB_IP/" 2>&1)" "hello-from-web"
wait_until 50 grep -q "hello-from-web" "$RUN/containers/$CLIENT_CID/container.log"
expect_match "pod to pod HTTP (container log)" "$(cat "$RUN/containers/$CLIENT_CID/container.log" 2>&1)" "stdout F hello-from-web"
# logs and exec through the API server and the agent's streaming server (:10250)
K() { "${IN[@]}" timeout 30 "$MINIK8S" kubectl --kubeconfig "$KUBECONFIG" "$@"; }
expect_eq "kubectl logs through the agent" "$(K logs client 2>&1)" "hello-from-web"
expect_eq "kubectl exec through the agent" "$(K exec web -- cat /www/index.html 2>&1)" "hello-from-web"

# ---- restart on crash, with back-off ----
create_pod crash '{"containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never",
  "command":["sh","-c","echo crashing; exit 3"]}]}'
SEEN_BACKOFF=0
for i in $(seq 200); do
	pod crash
	[ "$(jqb '.status.containerStatuses[0].state.waiting.reason')" == CrashLoopBackOff ] && SEEN_BACKOFF=1
	num_cmp "$(jqb '.status.containerStatuses[0].restartCount')" '>=' 3 && break
	sleep 0.1
done
if num_cmp "$(jqb '.status.containerStatuses[0].restartCount')" '>=' 3; then pass "crashing container restarts (restartCount >= 3)"
else fail "crashing container restarts" "$(jqb .status.containerStatuses)"; fi
expect_eq "CrashLoopBackOff reported" "$SEEN_BACKOFF" 1
expect_eq "lastState has the exit code" "$(jqb '.status.containerStatuses[0].lastState.terminated.exitCode')" 3
expect_eq "crash pod phase Running" "$(jqb .status.phase)" Running
CRASH_UID=$(jqb .metadata.uid)

# ---- restartPolicy Never: Succeeded ----
create_pod once '{"restartPolicy":"Never","containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never","command":["sh","-c","echo done"]}]}'
if wait_pod once '.status.phase=="Succeeded"' 150; then pass "restartPolicy Never pod Succeeded"
else fail "restartPolicy Never pod Succeeded" "$(podq once .status)"; fi
expect_eq "terminated reason Completed" "$(podq once '.status.containerStatuses[0].state.terminated | "\(.reason) \(.exitCode)"')" "Completed 0"

# ---- image pull failure ----
create_pod badimg '{"containers":[{"name":"c","image":"127.0.0.1:1/nope/missing:1","imagePullPolicy":"IfNotPresent"}]}'
SEEN_ERR=0 SEEN_BO=0
for i in $(seq 150); do
	pod badimg
	r=$(jqb '.status.containerStatuses[0].state.waiting.reason')
	[ "$r" == ErrImagePull ] && SEEN_ERR=1 && MSG=$(jqb '.status.containerStatuses[0].state.waiting.message')
	[ "$r" == ImagePullBackOff ] && SEEN_BO=1
	[ $SEEN_ERR == 1 ] && [ $SEEN_BO == 1 ] && break
	sleep 0.1
done
expect_eq "image pull failure: ErrImagePull" "$SEEN_ERR" 1
expect_eq "image pull failure: ImagePullBackOff" "$SEEN_BO" 1
expect_match "ErrImagePull message" "${MSG:-}" "127.0.0.1:1/nope/missing"
expect_eq "badimg pod Pending" "$(podq badimg .status.phase)" Pending
api GET "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dbadimg"
expect_eq "pull failure events (Failed, BackOff)" "$(jqb '[.items[].reason] | (index("Failed") != null) and (index("BackOff") != null)')" true

# ---- liveness probe restarts ----
create_pod live '{"containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never",
  "command":["sh","-c","touch /tmp/ok; exec sleep 3600"],
  "livenessProbe":{"exec":{"command":["sh","-c","test -f /tmp/ok && rm /tmp/ok"]},"periodSeconds":1,"failureThreshold":2}}]}'
if wait_pod live '.status.containerStatuses[0].restartCount >= 1' 150; then pass "liveness failure restarts the container"
else fail "liveness failure restarts the container" "$(podq live .status.containerStatuses)"; fi

# ---- startup probe gates readiness ----
# the probe's file is created by the test once it has seen the pending state (a
# container that made it after a sleep raced the status under a slow, sanitized build)
create_pod slow '{"containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never",
  "command":["sleep","3600"],
  "startupProbe":{"exec":{"command":["test","-f","/tmp/up"]},"periodSeconds":1,"failureThreshold":120},
  "readinessProbe":{"exec":{"command":["true"]},"periodSeconds":1}}]}'
wait_pod slow '.status.phase=="Running"' 100
expect_eq "startup probe pending: not started, not ready" "$(podq slow '.status.containerStatuses[0] | "\(.started) \(.ready)"')" "false false"
rc exec "$(podq slow '.status.containerStatuses[0].containerID' | sed 's#^runc://##')" touch /tmp/up
if wait_pod slow '.status.containerStatuses[0].started and .status.containerStatuses[0].ready' 100; then pass "startup probe success: started and ready"
else fail "startup probe success: started and ready" "$(podq slow .status.containerStatuses)"; fi
api DELETE "/api/v1/namespaces/default/pods/slow?gracePeriodSeconds=0"

# ---- hostNetwork: the node's namespace, the node's address ----
create_pod hostnet '{"hostNetwork":true,"containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never","command":["sleep","3600"]}]}'
wait_pod hostnet '.status.phase=="Running"' 100
expect_eq "hostNetwork pod IP is the node IP" "$(podq hostnet .status.podIP)" "$NODE_IP"
HN_CID=$(podq hostnet '.status.containerStatuses[0].containerID' | sed 's#^runc://##')
expect_match "hostNetwork pod sees the node's interfaces" "$(rc exec "$HN_CID" ip -o -4 addr 2>&1)" "$NODE_IP/24"
api DELETE "/api/v1/namespaces/default/pods/hostnet?gracePeriodSeconds=0"

# ---- deletion removes everything ----
expect_eq "a running pod has all of these (sanity check of the probe)" "$(node_pod_leftovers "$WEB_UID" | sort | tr '\n' ' ')" "cgroup container ip mount netns poddir statedir veth "
# ---- adoption: kill -9 the server+agent, force-delete a pod meanwhile, start again ----
# the container's init is a child of its shim, the minik8s-shim executable, whose
# pid the shim recorded for an agent that restarts
WEB_PID=$(rc state "$WEB_CID" | jq -r .pid)
WEB_SHIM=$(awk '/^PPid:/ {print $2}' "/proc/$WEB_PID/status")
expect_eq "the container's parent is the minik8s-shim executable" "$(basename "$(readlink "/proc/$WEB_SHIM/exe")")" minik8s-shim
expect_eq "the shim's pid record names it" "$(jq -r .pid "$RUN/containers/$WEB_CID/shim")" "$WEB_SHIM"
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
expect_eq "containers survive the agent" "$(rc state "$WEB_CID" | jq -r .status)" running
node_start || { fail "server restarts" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server restarts after kill -9"
api GET /api/v1/nodes/$NODE
expect_eq "re-registration keeps the Node" "$(jqb .metadata.uid) $(jqb .spec.podCIDR)" "$NODE_UID $CIDR"
sleep 2
pod web
expect_eq "adopted: same container" "$(jqb '.status.containerStatuses[0].containerID')" "runc://$WEB_CID"
expect_eq "adopted: same IP" "$(jqb .status.podIP)" "$WEB_IP"
expect_eq "adopted: no restart" "$(jqb '.status.containerStatuses[0].restartCount')" 0
expect_eq "adopted: the same shim still parents the container" "$(awk '/^PPid:/ {print $2}' "/proc/$WEB_PID/status")" "$WEB_SHIM"
expect_eq "adopted: no duplicate containers" "$(node_containers | grep -c "^$WEB_UID")" 1
expect_eq "adopted: still ready" "$(jqb '[.status.conditions[]|select(.type=="Ready")][0].status')" True
expect_eq "adopted: pod to pod HTTP" "$(rc exec "$CLIENT_CID" wget -q -O- "http://$WEB_IP/" 2>&1)" "hello-from-web"
# web, client, crash, badimg, live have a sandbox; 'once' finished and gave its network back
expect_eq "adopted: one veth per pod with a sandbox" "$("${IN[@]}" ip -o link show master mk0 | wc -l)" 5

# force delete (grace 0): the pod vanishes from the API at once; the agent cleans up
ONCE_UID=$(podq once .metadata.uid)
api DELETE "/api/v1/namespaces/default/pods/once?gracePeriodSeconds=0"
wait_empty 100 node_pod_leftovers "$ONCE_UID"
expect_eq "force-deleted pod leaves nothing" "$(node_pod_leftovers "$ONCE_UID" | tr '\n' ' ')" ""

# graceful delete: SIGTERM, grace, teardown, then the agent removes the pod from the API
api DELETE /api/v1/namespaces/default/pods/web
expect_code "delete web" 200
GONE=0
for i in $(seq 150); do pod web; [ "$HTTP_CODE" == 404 ] && GONE=1 && break; sleep 0.1; done
expect_eq "deleted pod disappears from the API" "$GONE" 1
expect_eq "deleted pod leaves no netns, veth, IP, mount, container, cgroup" "$(node_pod_leftovers "$WEB_UID" | tr '\n' ' ')" ""
api DELETE /api/v1/namespaces/default/pods/crash
for i in $(seq 150); do pod crash; [ "$HTTP_CODE" == 404 ] && break; sleep 0.1; done
expect_eq "crash-looping pod deleted cleanly" "$(node_pod_leftovers "$CRASH_UID" | tr '\n' ' ')" ""

# ---- a second node: `minik8s agent` joining through the API (same machine, own bridge) ----
"$MINIK8S" image --data-dir "$T/data2" import --name test/busybox "$T/img/busybox-oci.tar" >/dev/null 2>&1
# joins with the server's node-token (CA pinned by hash, node credentials), as k3s agents do;
# it shares node 1's network namespace here, so node 1's balancer and DNS serve it
"${IN[@]}" "$MINIK8S" agent --server "$API" --token "$(cat "$DATA/node-token")" --node-name node2 \
	--node-ip 192.168.77.3 --data-dir "$T/data2" --run-dir "$T/run2" --netns-dir "$T/netns2" \
	--cgroup-parent "$CG/node2" --bridge mk1 --kubelet-port 10251 \
	--disable-proxy --disable-dns >>"$T/agent2.log" 2>&1 &
AGENT2_PID=$!
_PIDS+=("$AGENT2_PID")
wait_until 100 grep -qs "agent for node node2 running" "$T/agent2.log"
api GET /api/v1/nodes/node2
CIDR2=$(jqb .spec.podCIDR)
expect_match "minik8s agent registers node2 with its own CIDR" "$CIDR2" '^10\.244\.[0-9]+\.0/24$'
[ "$CIDR2" != "$CIDR" ] || fail "node CIDRs differ" "$CIDR2"
api_json POST /api/v1/namespaces/default/pods "$(pod_json n2pod '{"nodeName":"node2","containers":[{"name":"c","image":"'"$IMG"'","imagePullPolicy":"Never","command":["sleep","3600"]}]}')"
if wait_pod n2pod '.status.phase=="Running"' 150; then pass "pod on node2 Running"; else fail "pod on node2 Running" "$(podq n2pod .status) $(tail -3 "$T/agent2.log")"; fi
expect_match "node2 pod IP from node2's CIDR" "$(podq n2pod .status.podIP)" "^${CIDR2%.0/24}\."
api DELETE "/api/v1/namespaces/default/pods/n2pod?gracePeriodSeconds=1"
for i in $(seq 100); do pod n2pod; [ "$HTTP_CODE" == 404 ] && break; sleep 0.1; done
expect_eq "node2 pod deleted, its containers gone" "$(runc --root "$T/run2/runc" list -q 2>/dev/null | wc -l) $HTTP_CODE" "0 404"
kill -TERM "$AGENT2_PID"; wait "$AGENT2_PID" 2>/dev/null

# ---- events ----
api GET /api/v1/namespaces/default/events
for r in Pulled Created Started Killing BackOff Unhealthy Failed; do
	expect_eq "event $r recorded" "$(jqb "[.items[] | select(.reason==\"$r\" and .source.component==\"kubelet\")] | length > 0")" true
done

# ---- heartbeat ----
# polled (bounded: 30 s, three renewal periods) rather than a fixed 12 s
hb_renewed() {
	api GET /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$NODE
	LEASE2=$(jqb .spec.renewTime)
	[ -n "$LEASE2" ] && [ "$LEASE2" != null ] && [ "$LEASE2" \> "$LEASE1" ]
}
wait_until 300 hb_renewed
[ -n "$LEASE2" ] && [ "$LEASE2" != null ] && [ "$LEASE2" \> "$LEASE1" ] && pass "heartbeat renews the node's lease" ||
	fail "heartbeat renews the node's lease" "$LEASE1 -> $LEASE2"
# ---- everything goes on delete ----
for p in client badimg live; do api DELETE "/api/v1/namespaces/default/pods/$p?gracePeriodSeconds=1"; done
# the containers go first, then each pod's network and rootfs
pod_traces() { node_containers; ls "$NETNS"; "${IN[@]}" ip -o link show master mk0; grep " $DATA/pods" /proc/mounts; }
wait_empty 150 pod_traces
expect_eq "no containers left after deleting every pod" "$(node_containers | wc -l)" 0
expect_eq "no pod namespaces left" "$(ls "$NETNS" 2>/dev/null | wc -l)" 0
expect_eq "no veths left" "$("${IN[@]}" ip -o link show master mk0 | wc -l)" 0
expect_eq "no overlay mounts left" "$(grep -c " $DATA/pods" /proc/mounts)" 0
stop_server TERM
done_testing
