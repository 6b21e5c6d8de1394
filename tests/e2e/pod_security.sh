#!/bin/bash
# What a pod spec asks of the node and the scheduler, end to end with real runc
# pods and the real kubectl 1.32 against `minik8s server` and its in-process agent
# inside a "node" network namespace this test creates (the setup of
# pod_containers.sh). Covers: securityContext runAsUser/runAsGroup/fsGroup/
# supplementalGroups (`id`, the emptyDir's group and setgid bit), runAsNonRoot
# refusing a root image (CreateContainerConfigError), readOnlyRootFilesystem,
# capabilities (drop ALL: CapEff 0; add/drop one), allowPrivilegeEscalation false
# (NoNewPrivs), privileged (every capability, /sys writable); resources as cgroup
# limits (CFS quota/period, memory limit, CPU shares or weight, read inside the
# container), a container past its memory limit OOMKilled (137); status.qosClass;
# node allocatable and the scheduler's resource fit (Pending with a
# FailedScheduling "Insufficient memory" / "Insufficient cpu" event); preStop
# hooks (exec and httpGet) running before SIGTERM, also before a liveness
# probe's kill, and a container ignoring
# SIGTERM killed after the grace period; a bad manifest answered 422 naming the
# fields (kubectl apply shows them); `kubectl describe` shows the QoS class.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require "pod security" runc jq curl ip nsenter "$KUBECTL"
node_init ps 192.168.79.2
HOSTDIR=$T/host
mkdir -p "$HOSTDIR"
chmod 0777 "$HOSTDIR"

# pod_json NAME SPEC_JSON [BOUND]: a pod (bound to the node unless BOUND=no) with
# a "data" emptyDir and a "host" hostPath volume
pod_json() {
	jq -c -n --arg n "$1" --arg node "$NODE" --arg host "$HOSTDIR" --argjson x "$2" --arg b "${3:-yes}" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n},
	   spec:({terminationGracePeriodSeconds:2,
	          volumes:[{name:"data",emptyDir:{}},{name:"host",hostPath:{path:$host}}]}
	         + (if $b == "yes" then {nodeName:$node} else {} end) + $x)}'
}
create_pod() { api_json POST /api/v1/namespaces/default/pods "$(pod_json "$@")"; }
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
kstatus() { K get pod "$1" --no-headers 2>&1 | awk '{print $3}'; }
# wait_for TRIES EXPR: evaluates the shell expression EXPR every 0.1 s until it
# succeeds (at most TRIES times)
wait_for() {
	local i
	for ((i = 0; i < $1; i++)); do eval "$2" && return 0; sleep 0.1; done
	return 1
}
# ctr NAME SCRIPT [EXTRA_JSON]: a busybox container running SCRIPT with both volumes
ctr() {
	local x=${3:-}
	[ -n "$x" ] || x='{}'
	jq -c -n --arg n "$1" --arg img "$IMG" --arg s "$2" --argjson x "$x" \
		'{name:$n,image:$img,imagePullPolicy:"Never",command:["sh","-c",$s],
		  volumeMounts:[{name:"data",mountPath:"/data"},{name:"host",mountPath:"/host"}]} + $x'
}
# logs_until NAME REGEX: waits (bounded) until the pod's log matches, prints it
logs_until() {
	local i l
	for ((i = 0; i < 100; i++)); do
		l=$(K logs "$1" 2>/dev/null)
		[[ "$l" =~ $2 ]] && break
		sleep 0.1
	done
	printf '%s' "$l"
}

node_up

# ---- node allocatable -----------------------------------------------------------
NODEJ=$(K get node "$NODE" -o json 2>&1)
expect_eq "node allocatable pods" "$(jq -r .status.allocatable.pods <<<"$NODEJ")" 110
expect_eq "node allocatable cpu is the capacity" \
	"$(jq -r .status.allocatable.cpu <<<"$NODEJ")" "$(jq -r .status.capacity.cpu <<<"$NODEJ")"
CAPKI=$(jq -r '.status.capacity.memory|sub("Ki$";"")' <<<"$NODEJ")
ALLOCKI=$(jq -r '.status.allocatable.memory|sub("Ki$";"")' <<<"$NODEJ")
expect_eq "node allocatable memory: capacity minus the 100Mi eviction threshold" \
	"$ALLOCKI" "$((CAPKI - 102400))"

# ---- user, groups, fsGroup; BestEffort --------------------------------------------
IDS=$(ctr ids 'id; stat -c "%g %A" /data; touch /data/f; stat -c "%g" /data/f; exec sleep 3600')
create_pod ids "{\"securityContext\":{\"runAsUser\":1000,\"runAsGroup\":3000,\"fsGroup\":2000,\"supplementalGroups\":[4000]},\"containers\":[$IDS]}"
expect_code "pod with runAsUser/runAsGroup/fsGroup created" 201
expect_eq "qosClass BestEffort without resources" "$(jqb .status.qosClass)" BestEffort
L=$(logs_until ids $'\n[0-9]+$')
expect_eq "id: runAsUser, runAsGroup, fsGroup and supplementalGroups" "$(sed -n 1p <<<"$L")" \
	"uid=1000 gid=3000 groups=2000,3000,4000"
expect_eq "emptyDir owned by the fsGroup, group-writable and setgid" "$(sed -n 2p <<<"$L")" "2000 drwxrwsrwx"
expect_eq "a file created in the emptyDir gets the fsGroup" "$(sed -n 3p <<<"$L")" 2000
expect_eq "kubectl get -o jsonpath qosClass" "$(K get pod ids -o jsonpath='{.status.qosClass}')" BestEffort

# ---- read-only root, capabilities, no_new_privs, cgroup limits; Burstable ----------
CGSCRIPT='if [ -f /sys/fs/cgroup/cpu.max ]; then
  echo "cpu $(cat /sys/fs/cgroup/cpu.max)"; echo "mem $(cat /sys/fs/cgroup/memory.max)";
  echo "weight $(cat /sys/fs/cgroup/cpu.weight)"; echo "swap $(cat /sys/fs/cgroup/memory.swap.max)";
else
  echo "cpu $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)";
  echo "mem $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)";
  echo "shares $(cat /sys/fs/cgroup/cpu/cpu.shares)"; echo "swap 0";
fi'
RO=$(ctr ro "if touch /rootfile 2>/dev/null; then echo root-rw; else echo root-ro; fi
touch /data/ok && echo volume-rw
grep -E '^(CapEff|NoNewPrivs):' /proc/self/status | tr -s '\t ' ' '
$CGSCRIPT
exec sleep 3600" '{"securityContext":{"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}},
  "resources":{"limits":{"cpu":"500m","memory":"64Mi"},"requests":{"cpu":"250m","memory":"32Mi"}}}')
create_pod ro "{\"containers\":[$RO]}"
expect_code "pod with a read-only root and resources created" 201
expect_eq "qosClass Burstable with requests below limits" "$(jqb .status.qosClass)" Burstable
L=$(logs_until ro $'\nswap [0-9]+')
expect_eq "readOnlyRootFilesystem: writing / fails" "$(sed -n 1p <<<"$L")" root-ro
expect_eq "readOnlyRootFilesystem: volumes stay writable" "$(sed -n 2p <<<"$L")" volume-rw
expect_eq "capabilities drop ALL: CapEff 0" "$(grep CapEff <<<"$L")" "CapEff: 0000000000000000"
expect_eq "allowPrivilegeEscalation false: NoNewPrivs" "$(grep NoNewPrivs <<<"$L")" "NoNewPrivs: 1"
expect_eq "limits.cpu 500m: CFS quota 50000 per 100000" "$(grep '^cpu ' <<<"$L")" "cpu 50000 100000"
expect_eq "limits.memory 64Mi: memory limit" "$(grep '^mem ' <<<"$L")" "mem 67108864"
expect_match "requests.cpu 250m: shares 256 (v1) or weight 10 (v2)" "$(grep -E '^(shares|weight) ' <<<"$L")" \
	'^(shares 256|weight 10)$'
expect_eq "no swap beyond the memory limit" "$(grep '^swap ' <<<"$L")" "swap 0"

# ---- capabilities add/drop; privileged --------------------------------------------
# a host device runc does not give every container (none: the check is skipped)
HOSTDEV=$(find /dev -maxdepth 1 -type c ! -name null ! -name zero ! -name full ! -name random \
	! -name urandom ! -name tty ! -name ptmx ! -name console 2>/dev/null | sort | head -1)
CAPS=$(ctr caps "grep CapEff /proc/self/status | tr -s '\t ' ' '; [ -c '$HOSTDEV' ] && echo has-dev || echo no-dev; exec sleep 3600" \
	'{"securityContext":{"capabilities":{"add":["NET_ADMIN"],"drop":["CHOWN"]}}}')
PRIV=$(ctr priv "grep CapEff /proc/self/status | tr -s '\t ' ' '; grep ' /sys sysfs ' /proc/mounts | cut -d' ' -f4 | cut -d, -f1; [ -c '$HOSTDEV' ] && echo has-dev || echo no-dev; exec sleep 3600" \
	'{"securityContext":{"privileged":true}}')
create_pod caps "{\"containers\":[$CAPS]}"
expect_code "pod with added/dropped capabilities created" 201
# its own pod: sysfs of a network namespace is one superblock, read-only for
# every container once an unprivileged container of the pod mounted it
create_pod priv "{\"containers\":[$PRIV]}"
expect_code "pod with a privileged container created" 201
wait_for 100 '[ -n "$(K logs caps -c caps 2>/dev/null | sed -n 2p)" ]'
# containerd's default set (0xa80425fb) + NET_ADMIN (bit 12) - CHOWN (bit 0)
L=$(K logs caps -c caps 2>&1)
expect_eq "capabilities add NET_ADMIN, drop CHOWN" "$(sed -n 1p <<<"$L")" "CapEff: 00000000a80435fa"
[ -z "$HOSTDEV" ] || expect_eq "unprivileged: no host device $HOSTDEV" "$(sed -n 2p <<<"$L")" no-dev
wait_for 100 '[ -n "$(K logs priv 2>/dev/null | sed -n 3p)" ]'
L=$(K logs priv 2>&1)
# every capability the node's runtime has itself (its bounding set: ours)
expect_eq "privileged: every capability" "$(sed -n 1p <<<"$L")" "CapEff: $(awk '/^CapBnd:/{print $2}' /proc/$$/status)"
expect_eq "privileged: /sys mounted read-write" "$(sed -n 2p <<<"$L")" rw
[ -z "$HOSTDEV" ] || expect_eq "privileged: the host's device $HOSTDEV" "$(sed -n 3p <<<"$L")" has-dev

# ---- validation: 422 naming the field ------------------------------------------------
BAD=$(ctr bad 'true' '{"resources":{"limits":{"cpu":"1"},"requests":{"cpu":"2"}},"securityContext":{"runAsUser":-1}}')
create_pod bad "{\"containers\":[$BAD]}"
expect_status "requests above limits: 422" 422 Invalid
expect_eq "the causes name the fields" "$(jqb '[.details.causes[].field] | join(" ")')" \
	"spec.containers[0].resources.requests[cpu] spec.containers[0].securityContext.runAsUser"
pod_json bad "{\"containers\":[$BAD]}" >"$T/bad.json"
expect_contains "kubectl apply: the field and why" "$(K apply -f "$T/bad.json" 2>&1)" \
	'spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1'
expect_eq "kubectl describe: QoS Class" "$(K describe pod ro 2>&1 | awk '/^QoS Class:/{print $3}')" Burstable

# ---- runAsNonRoot with an image that runs as root ----------------------------------
NR=$(ctr nonroot 'exec sleep 3600')
create_pod nonroot "{\"securityContext\":{\"runAsNonRoot\":true},\"containers\":[$NR]}"
expect_code "pod with runAsNonRoot created" 201
if wait_pod nonroot '.status.containerStatuses[0].state.waiting.reason=="CreateContainerConfigError"' 150; then
	pass "runAsNonRoot with a root image: CreateContainerConfigError"
else
	fail "runAsNonRoot with a root image: CreateContainerConfigError" "$(podq nonroot .status.containerStatuses)"
fi
expect_contains "runAsNonRoot message" "$(podq nonroot '.status.containerStatuses[0].state.waiting.message')" \
	"container has runAsNonRoot and image will run as root (pod: \"nonroot_default("
expect_eq "kubectl get: CreateContainerConfigError" "$(kstatus nonroot)" CreateContainerConfigError
NR2=$(ctr nonroot2 'id -u; exec sleep 3600')
create_pod nonroot2 "{\"securityContext\":{\"runAsNonRoot\":true,\"runAsUser\":1001},\"containers\":[$NR2]}"
expect_eq "runAsNonRoot with runAsUser 1001 runs" "$(logs_until nonroot2 '^[0-9]+$')" 1001

# ---- OOMKilled; Guaranteed ------------------------------------------------------------
OOM=$(ctr oom 'exec dd if=/dev/zero of=/dev/null bs=64M count=1' \
	'{"resources":{"limits":{"cpu":"100m","memory":"16Mi"}}}')
create_pod oom "{\"restartPolicy\":\"Never\",\"containers\":[$OOM]}"
expect_code "pod past its memory limit created" 201
expect_eq "qosClass Guaranteed with limits only (requests default to them)" "$(jqb .status.qosClass)" Guaranteed
if wait_pod oom '.status.containerStatuses[0].state.terminated != null' 200; then
	pass "memory hog terminated"
else
	fail "memory hog terminated" "$(podq oom .status.containerStatuses)"
fi
expect_eq "terminated OOMKilled with exit code 137" \
	"$(podq oom '.status.containerStatuses[0].state.terminated | "\(.reason) \(.exitCode)"')" "OOMKilled 137"
expect_eq "kubectl get: OOMKilled" "$(kstatus oom)" OOMKilled

# ---- the scheduler: allocatable and requests -------------------------------------------
BIG=$(ctr big 'exec sleep 3600' '{"resources":{"requests":{"memory":"1000Ti"}}}')
create_pod big "{\"containers\":[$BIG]}" no
expect_code "pod requesting more memory than the node has created" 201
evmsg() { K get events --field-selector "involvedObject.name=$1,reason=FailedScheduling" \
	-o jsonpath='{.items[-1:].message}' 2>/dev/null; }
wait_for 100 '[ -n "$(evmsg big)" ]'
expect_eq "FailedScheduling: Insufficient memory" "$(evmsg big)" "0/1 nodes are available: 1 Insufficient memory."
pod big
expect_eq "pod stays Pending, unbound" "$(jqb '"\(.status.phase) \(.spec.nodeName // "")"')" "Pending "
expect_eq "PodScheduled False Unschedulable" \
	"$(jqb '.status.conditions[]|select(.type=="PodScheduled")|"\(.status) \(.reason)"')" "False Unschedulable"
CPUS=$(jq -r .status.allocatable.cpu <<<"$NODEJ")
HOG=$(ctr hog 'exec sleep 3600' "{\"resources\":{\"requests\":{\"cpu\":\"$((CPUS + 1))\",\"memory\":\"1000Ti\"}}}")
create_pod hog "{\"containers\":[$HOG]}" no
wait_for 100 '[ -n "$(evmsg hog)" ]'
expect_eq "FailedScheduling: Insufficient cpu and memory" "$(evmsg hog)" \
	"0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory."
# what bound pods request counts: beside the 250m of pod ro (the only running pod
# with a cpu request), half of the rest fits twice, a third time not
HALF=$(((CPUS * 1000 - 250) / 2))m
for p in half1 half2 half3; do
	H=$(ctr "$p" 'exec sleep 3600' "{\"resources\":{\"requests\":{\"cpu\":\"$HALF\"}}}")
	create_pod "$p" "{\"containers\":[$H]}" no
done
wait_for 100 '[ "$(podq half2 .spec.nodeName)" = "$NODE" ]'
expect_eq "pods whose requests fit are bound" "$(podq half1 .spec.nodeName) $(podq half2 .spec.nodeName)" "$NODE $NODE"
wait_for 100 '[ -n "$(evmsg half3)" ]'
expect_eq "the node's requested cpu counts: Insufficient cpu" "$(evmsg half3)" "0/1 nodes are available: 1 Insufficient cpu."
K delete pod half1 --wait=false >/dev/null 2>&1
if wait_for 200 '[ "$(podq half3 .spec.nodeName)" = "$NODE" ]'; then
	pass "a pod that did not fit is bound once another one is deleted"
else
	fail "a pod that did not fit is bound once another one is deleted" "$(podq half3 .status)"
fi

# ---- preStop (exec and httpGet) before SIGTERM; grace period then SIGKILL ----------------
STOP=$(ctr stop 'trap "echo term >> /host/stop.log; exit 0" TERM; while true; do sleep 0.1; done' \
	'{"lifecycle":{"preStop":{"exec":{"command":["sh","-c","echo prestop-exec >> /host/stop.log"]}}}}')
WEB=$(ctr web 'mkdir -p /www/cgi-bin && printf "#!/bin/sh\necho prestop-http >> /host/web.log\necho Content-Type: text/plain\necho\necho ok\n" > /www/cgi-bin/hook && chmod +x /www/cgi-bin/hook && exec httpd -f -p 8080 -h /www' \
	'{"lifecycle":{"preStop":{"httpGet":{"path":"/cgi-bin/hook","port":8080}}}}')
create_pod stopper "{\"terminationGracePeriodSeconds\":10,\"containers\":[$STOP,$WEB]}"
expect_code "pod with preStop hooks created" 201
wait_pod stopper '.status.phase=="Running" and ([.status.containerStatuses[].ready]|all)' 150
K delete pod stopper --wait=false >/dev/null 2>&1
if wait_for 200 'pod stopper; [ "$HTTP_CODE" = 404 ]'; then
	pass "pod with preStop hooks deleted"
else
	fail "pod with preStop hooks deleted" "$(podq stopper .status)"
fi
expect_eq "exec preStop ran, then SIGTERM" "$(cat "$HOSTDIR/stop.log" 2>&1)" $'prestop-exec\nterm'
expect_eq "httpGet preStop reached the container" "$(cat "$HOSTDIR/web.log" 2>&1)" prestop-http

# a liveness kill runs the hook too
LIVE=$(ctr live 'trap "exit 0" TERM; while true; do sleep 0.1; done' \
	'{"livenessProbe":{"exec":{"command":["false"]},"periodSeconds":1,"failureThreshold":1},
	  "lifecycle":{"preStop":{"exec":{"command":["sh","-c","echo prestop-live >> /host/live.log"]}}}}')
create_pod live "{\"containers\":[$LIVE]}"
if wait_pod live '.status.containerStatuses[0].restartCount >= 1' 300; then
	pass "container failing its liveness probe restarted"
else
	fail "container failing its liveness probe restarted" "$(podq live .status.containerStatuses)"
fi
expect_eq "liveness kill: preStop ran first" "$(head -1 "$HOSTDIR/live.log" 2>&1)" prestop-live

STUB=$(ctr stub 'trap "echo term >> /host/stub.log" TERM; while true; do sleep 0.1; done')
create_pod stub "{\"terminationGracePeriodSeconds\":2,\"containers\":[$STUB]}"
wait_pod stub '.status.phase=="Running"' 150
K delete pod stub --wait=false >/dev/null 2>&1
if wait_for 200 'pod stub; [ "$HTTP_CODE" = 404 ]'; then
	pass "pod ignoring SIGTERM is gone after its grace period"
else
	fail "pod ignoring SIGTERM is gone after its grace period" "$(podq stub .status)"
fi
expect_eq "it got SIGTERM (and ignored it) before SIGKILL" "$(cat "$HOSTDIR/stub.log" 2>&1)" term
expect_eq "no container of the pod is left running" \
	"$(runc --root "$RUN/runc" list -f json 2>/dev/null | jq -r '[.[]? | select(.status=="running") | .annotations["io.kubernetes.pod.name"] | select(. == "stub" or . == "stopper")] | length')" 0

done_testing
