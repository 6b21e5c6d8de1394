#!/bin/bash
# Init containers, sidecars and ephemeral containers end to end, for real: the
# real kubectl 1.32 against `minik8s server` with its in-process agent running
# real runc pods inside a "node" network namespace this test creates (the setup of
# agent_pods.sh: own data dir, run dir, netns dir, cgroup parent and bridge).
# Covers: init containers run in order before the app and share its volumes
# (Init:0/2 while a gated init runs), a failing init container under
# restartPolicy Never fails the pod (Init:Error) and under Always is restarted
# (Init:CrashLoopBackOff, the pod Pending and its app not started until it succeeds),
# a sidecar runs beside the app (same network) and stops when the app completes,
# completed init containers are not run again after the agent is killed and
# restarted, and `kubectl debug` adds ephemeral containers that run in the pod's
# network namespace and, with --target, see the target's processes; the
# pods/ephemeralcontainers subresource only accepts additions; deleted pods leave no
# container, netns, veth, address, mount, cgroup or directory behind.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require "pod containers" runc jq curl ip nsenter "$KUBECTL"
node_init pc 192.168.78.2
GATE=$T/gate
mkdir -p "$GATE"
# POD_E2E_KEEP_LOG=FILE: where to keep the server log when a check fails
[ -z "${POD_E2E_KEEP_LOG:-}" ] || on_exit '[ "$FAILED" != 1 ] || cp "$T/server.log" "$POD_E2E_KEEP_LOG"'

# pod_json NAME SPEC_JSON: a pod bound to the node, with a "work" emptyDir and the gate
pod_json() {
	jq -c -n --arg n "$1" --arg node "$NODE" --arg gate "$GATE" --argjson x "$2" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n},
	   spec:({nodeName:$node,terminationGracePeriodSeconds:2,
	          volumes:[{name:"work",emptyDir:{}},{name:"gate",hostPath:{path:$gate}}]} + $x)}'
}
create_pod() { api_json POST /api/v1/namespaces/default/pods "$(pod_json "$1" "$2")"; }
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
# kubectl's STATUS column of pod NAME (the server-side Table)
kstatus() { K get pod "$1" --no-headers 2>&1 | awk '{print $3}'; }
kready() { K get pod "$1" --no-headers 2>&1 | awk '{print $2}'; }
wait_kstatus() { # wait_kstatus NAME WANT_REGEX TRIES(0.2s)
	local i s
	for ((i = 0; i < $3; i++)); do
		s=$(kstatus "$1")
		[[ "$s" =~ $2 ]] && return 0
		sleep 0.2
	done
	return 1
}
# ctr NAME IMAGE-less container JSON with a shell script and the shared volumes
ctr() {
	local x=${3:-}
	[ -n "$x" ] || x='{}'
	jq -c -n --arg n "$1" --arg img "$IMG" --arg s "$2" --argjson x "$x" \
		'{name:$n,image:$img,imagePullPolicy:"Never",command:["sh","-c",$s],
		  volumeMounts:[{name:"work",mountPath:"/work"},{name:"gate",mountPath:"/gate"}]} + $x'
}

node_up --restart-backoff 1s,4s

# ---- init containers: order, shared volume, Init:0/2 while the first one waits ----
I1=$(ctr init1 'until [ -f /gate/go ]; do sleep 0.1; done; echo init1 >> /work/log')
I2=$(ctr init2 'echo init2 >> /work/log; ip -4 -o addr show eth0 | awk "{print \$4}" > /work/ip')
APP=$(ctr app 'cat /work/log; echo app >> /work/log; exec sleep 3600')
create_pod initpod "{\"initContainers\":[$I1,$I2],\"containers\":[$APP]}"
expect_code "pod with two init containers created" 201
if wait_pod initpod '.status.initContainerStatuses[0].state.running != null' 150; then
	pass "first init container runs"
else
	fail "first init container runs" "$(podq initpod .status)"
fi
expect_eq "kubectl get: Init:0/2 while the first init container runs" "$(kstatus initpod)" "Init:0/2"
expect_eq "kubectl get: READY 0/1 while initializing" "$(kready initpod)" "0/1"
pod initpod
expect_eq "phase Pending while initializing" "$(jqb .status.phase)" Pending
expect_eq "Initialized condition False" \
	"$(jqb '.status.conditions[]|select(.type=="Initialized")|"\(.status) \(.reason)"')" "False ContainersNotInitialized"
expect_eq "second init container waits" "$(jqb '.status.initContainerStatuses[1].state.waiting.reason')" PodInitializing
expect_eq "app container waits" "$(jqb '.status.containerStatuses[0].state.waiting.reason')" PodInitializing
touch "$GATE/go"
if wait_pod initpod '.status.phase=="Running"' 200; then pass "pod Running after its init containers"; else
	fail "pod Running after its init containers" "$(podq initpod .status)"; fi
pod initpod
expect_eq "init containers Completed" \
	"$(jqb '[.status.initContainerStatuses[] | "\(.name)=\(.state.terminated.reason)/\(.state.terminated.exitCode)/\(.ready)"] | join(" ")')" \
	"init1=Completed/0/true init2=Completed/0/true"
expect_eq "Initialized condition True" "$(jqb '.status.conditions[]|select(.type=="Initialized")|.status')" True
app_logged_both() { [ "$(K logs initpod -c app 2>/dev/null | wc -l)" -ge 2 ]; }
wait_until 100 app_logged_both
expect_eq "app reads what the init containers wrote, in order" "$(K logs initpod -c app 2>&1)" $'init1\ninit2'
expect_eq "kubectl get: Running 1/1" "$(kstatus initpod) $(kready initpod)" "Running 1/1"
expect_match "init container ran in the pod's network namespace" \
	"$(K exec initpod -c app -- cat /work/ip 2>&1)" "^$(podq initpod .status.podIP)/[0-9]+$"
INIT_CIDS=$(jqb '[.status.initContainerStatuses[].containerID] | join(" ")')

# ---- restartPolicy Never: a failing init container fails the pod ----
F1=$(ctr bad 'echo failing; exit 3')
APP2=$(ctr app 'echo app ran > /work/app; exec sleep 3600')
create_pod failnever "{\"restartPolicy\":\"Never\",\"initContainers\":[$F1],\"containers\":[$APP2]}"
expect_code "pod with a failing init container created" 201
if wait_pod failnever '.status.phase=="Failed"' 200; then pass "failing init under Never: pod Failed"; else
	fail "failing init under Never: pod Failed" "$(podq failnever .status)"; fi
pod failnever
expect_eq "failed init container terminated with its exit code" \
	"$(jqb '.status.initContainerStatuses[0].state.terminated | "\(.reason) \(.exitCode)"')" "Error 3"
expect_eq "app container never started" "$(jqb '.status.containerStatuses[0].state.waiting.reason')" PodInitializing
expect_eq "kubectl get: Init:Error" "$(kstatus failnever)" "Init:Error"
expect_eq "kubectl logs of the failed init container" "$(K logs failnever -c bad 2>&1)" failing

# ---- restartPolicy Always: a failing init container is restarted with back-off ----
# flaky fails until the test opens its gate, and at least twice. Init:CrashLoopBackOff
# is a transient state: it lasts one back-off (the first restart has none, the next
# waits 1s here), and the agent restarts at once a container whose exit it sees only
# after its back-off has passed; a poll that must catch one such window misses it when
# each kubectl call is slow (under load, calls 5-10s apart read Init:0/1 then Running
# while a watch saw a 2.7s Init:CrashLoopBackOff between them). So the failure goes
# on, its back-off growing to 4s, until the poll has seen it.
F2=$(ctr flaky 'echo try >> /work/tries; [ -f /gate/flaky-ok ] && [ $(wc -l < /work/tries) -ge 3 ]')
APP3=$(ctr app 'cat /work/tries | wc -l; exec sleep 3600')
create_pod failalways "{\"initContainers\":[$F2],\"containers\":[$APP3]}"
if wait_kstatus failalways '^Init:(Error|CrashLoopBackOff)$' 300; then
	pass "failing init under Always: Init:Error or Init:CrashLoopBackOff"
else
	fail "failing init under Always: Init:Error or Init:CrashLoopBackOff" "$(kstatus failalways)"
fi
# while it fails: no app container started, the pod Pending and not Initialized
expect_eq "failing init under Always: app waits, pod Pending, not Initialized" \
	"$(podq failalways '"\(.status.containerStatuses[0].state.waiting.reason) \(.status.phase) \([.status.conditions[]|select(.type=="Initialized")][0].status)"')" \
	"PodInitializing Pending False"
touch "$GATE/flaky-ok"
if wait_pod failalways '.status.phase=="Running"' 600; then pass "init container succeeds once its gate is open"; else
	fail "init container succeeds once its gate is open" "$(podq failalways .status)"; fi
wait_output 100 K logs failalways -c app
TRIES=$(K logs failalways -c app 2>&1) # the app prints how many times flaky ran
[[ "$TRIES" =~ ^[0-9]+$ ]] || TRIES=0
pod failalways
expect_eq "init restartCount: one less than its runs (at least 3)" \
	"$(jqb '.status.initContainerStatuses[0] | "\(.restartCount) \(.state.terminated.reason)"')" \
	"$((TRIES >= 3 ? TRIES - 1 : -1)) Completed"
expect_eq "app started once, after the last try" "$(jqb '.status.containerStatuses[0].restartCount')" 0
# the runs before the last two went (the last two keep their logs), with their rootfs
FA_UID=$(jqb .metadata.uid)
expect_eq "running pod: every trace there (sanity check of node_pod_leftovers)" \
	"$(node_pod_leftovers "$FA_UID" | sort | tr '\n' ' ')" "cgroup container ip mount netns poddir statedir veth "
expect_eq "after $TRIES runs: the last two init instances and the app in the runtime" \
	"$(node_containers | grep -c "^$FA_UID-")" 3

# ---- sidecar: started before the app, running beside it, same network ----
SIDE=$(ctr side 'mkdir -p /www && echo from-sidecar > /www/index.html && exec httpd -f -p 8080 -h /www' \
	'{"restartPolicy":"Always","startupProbe":{"tcpSocket":{"port":8080},"periodSeconds":1}}')
APP4=$(ctr app 'wget -q -O- http://127.0.0.1:8080/; exec sleep 3600')
create_pod sidecar "{\"initContainers\":[$SIDE],\"containers\":[$APP4]}"
expect_code "pod with a sidecar created" 201
if wait_pod sidecar '.status.phase=="Running" and ([.status.conditions[]|select(.type=="Ready")][0].status=="True")' 300; then
	pass "sidecar pod Running and Ready"
else
	fail "sidecar pod Running and Ready" "$(podq sidecar .status)"
fi
pod sidecar
expect_eq "sidecar running, started and ready" \
	"$(jqb '.status.initContainerStatuses[0] | "\(.state.running != null) \(.started) \(.ready)"')" "true true true"
expect_eq "kubectl get: sidecar counted, 2/2 Running" "$(kready sidecar) $(kstatus sidecar)" "2/2 Running"
wait_output 100 K logs sidecar -c app
expect_eq "app reaches the sidecar on localhost" "$(K logs sidecar -c app 2>&1)" from-sidecar
# a sidecar that dies is restarted, whatever the pod's restartPolicy; the app goes on
SIDE_CID=$(jqb '.status.initContainerStatuses[0].containerID' | sed 's#^runc://##')
runc --root "$RUN/runc" kill "$SIDE_CID" KILL
if wait_pod sidecar '.status.initContainerStatuses[0].restartCount == 1 and .status.initContainerStatuses[0].started == true' 300; then
	pass "killed sidecar restarted"
else
	fail "killed sidecar restarted" "$(podq sidecar .status.initContainerStatuses)"
fi
expect_eq "app not restarted with its sidecar" "$(podq sidecar '"\(.status.phase) \(.status.containerStatuses[0].restartCount)"')" "Running 0"

# a sidecar does not keep a finished pod alive: the app completes, the sidecar stops
SIDE2=$(ctr side 'trap "exit 0" TERM; while true; do sleep 0.2; done' \
	'{"restartPolicy":"Always"}')
APP5=$(ctr app 'echo done')
create_pod sidecarjob "{\"restartPolicy\":\"Never\",\"initContainers\":[$SIDE2],\"containers\":[$APP5]}"
if wait_pod sidecarjob '.status.phase=="Succeeded"' 300; then pass "pod with a sidecar Succeeded when its app completed"; else
	fail "pod with a sidecar Succeeded when its app completed" "$(podq sidecarjob .status)"; fi
pod sidecarjob
expect_eq "sidecar terminated after the app" \
	"$(jqb '.status.initContainerStatuses[0].state.terminated.finishedAt >= .status.containerStatuses[0].state.terminated.finishedAt')" true
expect_eq "app Completed, sidecar stopped by SIGTERM (its trap exits 0)" \
	"$(jqb '"\(.status.containerStatuses[0].state.terminated.reason) \(.status.initContainerStatuses[0].state.terminated.exitCode)"')" "Completed 0"
expect_eq "kubectl get: Completed" "$(kstatus sidecarjob)" Completed

# ---- validation of init, sidecar and ephemeral containers ----
api_json POST /api/v1/namespaces/default/pods "$(pod_json badinit "{\"initContainers\":[$(ctr i 'true' '{"readinessProbe":{"exec":{"command":["true"]}}}')],\"containers\":[$APP]}")"
expect_status "init container with a probe: 422" 422 Invalid
expect_eq "cause field path" "$(jqb '.details.causes[0].field')" "spec.initContainers[0].readinessProbe"
api_json POST /api/v1/namespaces/default/pods "$(pod_json badeph "{\"containers\":[$APP],\"ephemeralContainers\":[{\"name\":\"d\",\"image\":\"$IMG\"}]}")"
expect_status "ephemeral containers on create: 422" 422 Invalid
expect_eq "cause: cannot be set on create" "$(jqb '.details.causes[0] | "\(.field): \(.message)"')" \
	"spec.ephemeralContainers: Forbidden: cannot be set on create"

# ---- ephemeral containers: kubectl debug ----
TGT=$(ctr app 'exec sleep 3601')
create_pod target "{\"containers\":[$TGT]}"
if wait_pod target '.status.phase=="Running"' 200; then pass "target pod Running"; else
	fail "target pod Running" "$(podq target .status)"; fi
POD_IP=$(podq target .status.podIP)
api GET /api/v1/namespaces/default/pods/target/ephemeralcontainers
expect_eq "GET pods/ephemeralcontainers: the Pod" "$HTTP_CODE $(jqb .kind) $(jqb .metadata.name)" "200 Pod target"

out=$(K debug target --image="$IMG" --image-pull-policy=Never --target=app -- \
	sh -c 'echo ip=$(ip -4 -o addr show eth0 | awk "{print \$4}"); ps -o args' 2>&1)
rc=$?
expect_eq "kubectl debug --target exits 0" "$rc" 0
DBG=$(podq target '.spec.ephemeralContainers[0].name')
expect_match "kubectl debug names the container" "$DBG" '^debugger-[a-z0-9]+$'
expect_match "kubectl debug says which name it chose" "$out" "Defaulting debug container name to $DBG"
expect_eq "ephemeral container targets app" "$(podq target '.spec.ephemeralContainers[0].targetContainerName')" app
if wait_pod target '.status.ephemeralContainerStatuses[0].state.terminated.exitCode == 0' 200; then
	pass "ephemeral container ran to completion"
else
	fail "ephemeral container ran to completion" "$(podq target .status)"
fi
LOG=$(K logs target -c "$DBG" 2>&1)
expect_match "ephemeral container is in the pod's network namespace (pod IP)" "$LOG" "ip=$POD_IP/"
expect_match "--target: ephemeral container sees the target's processes" "$LOG" "sleep 3601"
expect_eq "the pod keeps running, not restarted" \
	"$(podq target '"\(.status.phase) \(.status.containerStatuses[0].restartCount)"')" "Running 0"
expect_eq "kubectl get: still 1/1 Running" "$(kready target) $(kstatus target)" "1/1 Running"

# without --target: own process namespace, same network
K debug target --image="$IMG" --image-pull-policy=Never -c plain -- \
	sh -c 'echo ip=$(ip -4 -o addr show eth0 | awk "{print \$4}"); ps -o args' >/dev/null 2>&1
wait_pod target '[.status.ephemeralContainerStatuses[]|select(.name=="plain")][0].state.terminated != null' 200 ||
	fail "second ephemeral container ran" "$(podq target .status.ephemeralContainerStatuses)"
LOG=$(K logs target -c plain 2>&1)
expect_match "ephemeral without --target: pod IP" "$LOG" "ip=$POD_IP/"
if [[ "$LOG" != *"sleep 3601"* ]]; then pass "ephemeral without --target: own processes only"; else
	fail "ephemeral without --target: own processes only" "$LOG"; fi
expect_eq "two ephemeral containers" "$(podq target '[.spec.ephemeralContainers[].name] | join(",")')" "$DBG,plain"

# a long-running debugger: exec reaches it by name like any container
K debug target --image="$IMG" --image-pull-policy=Never --target=app -c sleeper -- sleep 3602 >/dev/null 2>&1
if wait_pod target '[.status.ephemeralContainerStatuses[]|select(.name=="sleeper")][0].state.running != null' 200; then
	pass "long-running ephemeral container running"
else
	fail "long-running ephemeral container running" "$(podq target .status.ephemeralContainerStatuses)"
fi
out=$(K exec target -c sleeper -- ps -o args 2>&1)
expect_match "kubectl exec into the ephemeral container: the target's processes" "$out" "sleep 3601"
expect_match "kubectl exec into the ephemeral container: its own process" "$out" "sleep 3602"

# the subresource only adds: changing or removing one is refused with a field path
pod target
TARGET_JSON=$BODY
CHANGED=$(jq -c '.spec.ephemeralContainers[0].command = ["true"]' <<<"$TARGET_JSON")
api_json PUT /api/v1/namespaces/default/pods/target/ephemeralcontainers "$CHANGED"
expect_status "changing an ephemeral container: 422" 422 Invalid
expect_eq "cause: may not be changed" "$(jqb '.details.causes[0] | "\(.field): \(.message)"')" \
	"spec.ephemeralContainers[0]: Forbidden: existing ephemeral containers \"$DBG\" may not be changed"
api_json PATCH /api/v1/namespaces/default/pods/target/ephemeralcontainers \
	'[{"op":"remove","path":"/spec/ephemeralContainers/1"}]' -H 'Content-Type: application/json-patch+json'
expect_status "removing an ephemeral container (JSON patch): 422" 422 Invalid
# the main resource ignores ephemeral containers (kube's pod update strategy)
REMOVED=$(jq -c 'del(.spec.ephemeralContainers) | del(.metadata.resourceVersion)' <<<"$TARGET_JSON")
api_json PUT /api/v1/namespaces/default/pods/target "$REMOVED"
expect_eq "pod update keeps the ephemeral containers" "$HTTP_CODE $(jqb '.spec.ephemeralContainers | length')" "200 3"
api_json PATCH /api/v1/namespaces/default/pods/target/ephemeralcontainers \
	'{"spec":{"ephemeralContainers":[{"name":"x","image":"'"$IMG"'","targetContainerName":"nope"}]}}' \
	-H 'Content-Type: application/strategic-merge-patch+json'
expect_status "ephemeral target that does not exist: 422" 422 Invalid
expect_match "cause: targetContainerName not found" "$(jqb '.details.causes[0] | "\(.field): \(.message)"')" \
	'^spec\.ephemeralContainers\[[0-3]\]\.targetContainerName: Not found: "nope"$'
api_json PATCH /api/v1/namespaces/default/pods/target/ephemeralcontainers '{"spec":{"ephemeralContainers":[]}}' \
	-H 'Content-Type: application/merge-patch+json'
expect_status "merge patch emptying the list: 422" 422 Invalid
expect_eq "ephemeral containers unchanged" "$(podq target '[.spec.ephemeralContainers[].name] | join(",")')" "$DBG,plain,sleeper"
api_json POST /api/v1/namespaces/default/pods/target/ephemeralcontainers '{}'
expect_status "POST on pods/ephemeralcontainers: 404" 404 NotFound

# kubectl debug -it: an interactive debugger, attached through pods/attach
out=$("${IN[@]}" /usr/bin/python3 "$ROOT/tests/lib/ptydrive.py" --wait '#' --input 'echo dbg=$((6 * 7)) $(hostname)\nexit\n' \
	--timeout 60 -- "$KUBECTL" --kubeconfig "$KUBECONFIG" debug -it target --image="$IMG" \
	--image-pull-policy=Never --target=app -c interactive -- sh 2>&1)
expect_match "kubectl debug -it: a shell in the pod answers" "$out" "dbg=42 target"
if wait_pod target '[.status.ephemeralContainerStatuses[]|select(.name=="interactive")][0].state.terminated.exitCode == 0' 200; then
	pass "kubectl debug -it: the debugger ends when its shell exits"
else
	fail "kubectl debug -it: the debugger ends when its shell exits" "$(podq target .status.ephemeralContainerStatuses)"
fi

# ---- the agent restarts: completed init containers do not run again ----
LOG_LINES=$(wc -l <"$T/server.log")
kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null
# the runtime also loses the first init container (exited containers may be
# cleaned up): the pod's status in the API is what says it completed
INIT1_CID=$(cut -d' ' -f1 <<<"$INIT_CIDS" | sed 's#^runc://##')
runc --root "$RUN/runc" delete "$INIT1_CID" >/dev/null 2>&1
rm -rf "${RUN:?}/containers/$INIT1_CID"
node_start || { fail "server restarts" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server restarts after kill -9"
# the new agent took the pod over (it logs each container it adopts)
adopted() { tail -n +"$LOG_LINES" "$T/server.log" | grep -q "pod default/initpod: adopted container .*$1"; }
wait_until 200 adopted "$(podq initpod '.status.containerStatuses[0].containerID' | sed 's#^runc://##')" ||
	fail "agent adopted initpod's app container"
expect_eq "after restart: init containers did not run again" "$(K exec initpod -c app -- cat /work/log 2>&1)" $'init1\ninit2\napp'
pod initpod
expect_eq "after restart: same init containers" "$(jqb '[.status.initContainerStatuses[].containerID] | join(" ")')" "$INIT_CIDS"
expect_eq "after restart: still Running, app not restarted" \
	"$(jqb '"\(.status.phase) \(.status.containerStatuses[0].restartCount)"')" "Running 0"

# ---- everything goes on delete ----
PUIDS=
for p in initpod failnever failalways sidecar sidecarjob target; do
	PUIDS+=" $(podq "$p" .metadata.uid)"
	api DELETE "/api/v1/namespaces/default/pods/$p?gracePeriodSeconds=1"
done
wait_empty 600 node_containers
left=$(node_containers | wc -l)
expect_eq "no containers left after deleting every pod" "$left" 0
[ "$left" = 0 ] || { api GET /api/v1/namespaces/default/pods; jqb '.items[] | "\(.metadata.name) \(.metadata.deletionTimestamp) \(.status.phase)"'; runc --root "$RUN/runc" list; }
all_leftovers() { local u; for u in $PUIDS; do node_pod_leftovers "$u" | sed "s/^/$u:/"; done; }
wait_empty 300 all_leftovers
expect_eq "deleted pods leave no netns, veth, IP, mount, cgroup, pod or state dir" "$(all_leftovers | tr '\n' ' ')" ""
stop_server TERM
done_testing
