#!/bin/bash
# The ClusterIP lab, step by step, against the cluster in $KUBECONFIG:
#
#   1. the cluster answers and has nodes
#   2. kubectl create namespace demo
#   3. the php-echo deployment, 3 replicas of the echo app (examples/php-echo.yaml)
#   4. kubectl run jumpbox; curl localhost:80 inside it shows a welcome page
#   5. before the service exists, curl php-echo.demo.svc.cluster.local FAILS
#   6. kubectl -n demo expose deployment php-echo --port=80 --type=ClusterIP
#   7. dig +short inside the jumpbox prints the service's ClusterIP
#   8. a bounded curl loop through the service: the replies rotate over the replicas
#
# Usage: examples/clusterip-lab.sh [--step | --no-pause] [--requests N]
#        examples/clusterip-lab.sh --cleanup      remove what the lab created
#
# Uses the real `kubectl` when installed (needed for `kubectl exec`), else
# `minik8s kubectl`; KUBECTL=... chooses. Pauses between steps when stdout is a
# terminal (--step: always, --no-pause: never). Before the first run, import the
# images on every node:
#   examples/images/build.sh && minik8s image import examples/images/out/*.tar
# Environment: ECHO_IMAGE, JUMPBOX_IMAGE (defaults minik8s.local/echo:1 and
# minik8s.local/jumpbox:1), WAIT_TIMEOUT (seconds per wait, default 120).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS=demo
APP=php-echo
SVC_HOST=$APP.$NS.svc.cluster.local
ECHO_IMAGE=${ECHO_IMAGE:-minik8s.local/echo:1}
JUMPBOX_IMAGE=${JUMPBOX_IMAGE:-minik8s.local/jumpbox:1}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-120}
REQUESTS=12
PAUSE=auto
CLEANUP=0
STEP=0

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; }
while [ $# -gt 0 ]; do
	case $1 in
	--step) PAUSE=yes ;;
	--no-pause) PAUSE=no ;;
	--cleanup) CLEANUP=1 ;;
	--requests) REQUESTS=${2:-}; shift ;;
	--requests=*) REQUESTS=${1#--requests=} ;;
	-h | --help) usage; exit 0 ;;
	*) echo "clusterip-lab.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[[ "$REQUESTS" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "clusterip-lab.sh: --requests wants 1..9999" >&2; exit 2; }
[[ "$WAIT_TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { echo "clusterip-lab.sh: WAIT_TIMEOUT wants seconds" >&2; exit 2; }
if [ "$PAUSE" = auto ]; then if [ -t 1 ] && [ -t 0 ]; then PAUSE=yes; else PAUSE=no; fi; fi

if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' N=$'\e[0m'; else B='' G='' R='' Y='' N=''; fi

# ---- the client ----
if [ -n "${KUBECTL:-}" ]; then
	read -r -a K <<<"$KUBECTL"
elif command -v kubectl >/dev/null 2>&1; then
	K=(kubectl)
elif command -v minik8s >/dev/null 2>&1; then
	K=(minik8s kubectl)
elif [ -x "$HERE/../build/minik8s" ]; then
	K=("$HERE/../build/minik8s" kubectl)
else
	echo "clusterip-lab.sh: neither kubectl nor minik8s is installed (PATH=$PATH)" >&2
	exit 1
fi
REAL_KUBECTL=1
[[ "${K[*]}" == *minik8s* ]] && REAL_KUBECTL=0

step() {
	STEP=$((STEP + 1))
	if [ "$PAUSE" = yes ] && [ "$STEP" -gt 1 ]; then
		printf '%s' "${Y}-- press Enter for step $STEP (ctrl+c to stop) --${N}"
		read -r _ </dev/tty || true
	fi
	echo
	echo "${B}==> step $STEP: $*${N}"
}
# What the lab shows as a command goes to fd 3 (the script's own stdout, opened
# below), never to the stdout of the command: a step that captures a command's answer
# with $(...) gets the answer alone, not the "$ kubectl ..." line printed before it.
exec 3>&1
show_cmd() { echo "${B}\$ $*${N}" >&3; }
# show and run a kubectl command
kc() {
	show_cmd "kubectl $*"
	"${K[@]}" "$@"
}
ok() { echo "${G}ok:${N} $*"; }
warn() { echo "${Y}warning:${N} $*"; }
# die WHAT HINT...: the step failed
die() {
	local what=$1
	shift
	echo "${R}FAILED at step $STEP: $what${N}" >&2
	local h
	for h in "$@"; do echo "  - $h" >&2; done
	exit 1
}

# jget NS TYPE/NAME FIELD: one field ("clusterIP", "readyReplicas", "ready", "phase",
# "hostIP", "podIP"); real kubectl uses jsonpath, the built-in client -o json + jq
jget() {
	local ns=$1 obj=$2 field=$3 jp jqf
	case $field in
	clusterIP) jp='{.spec.clusterIP}' jqf='.spec.clusterIP' ;;
	replicas) jp='{.spec.replicas}' jqf='.spec.replicas' ;;
	readyReplicas) jp='{.status.readyReplicas}' jqf='.status.readyReplicas' ;;
	ready) jp='{.status.conditions[?(@.type=="Ready")].status}'
		jqf='.status.conditions[]? | select(.type == "Ready") | .status' ;;
	phase) jp='{.status.phase}' jqf='.status.phase' ;;
	esac
	if [ "$REAL_KUBECTL" = 1 ]; then
		"${K[@]}" -n "$ns" get "$obj" -o "jsonpath=$jp" 2>/dev/null
	else
		command -v jq >/dev/null || die "jq is needed with the built-in client" "apt-get install jq, or install kubectl"
		"${K[@]}" -n "$ns" get "$obj" -o json 2>/dev/null | jq -r "$jqf // empty"
	fi
}
# exists NS TYPE/NAME (NS "" for cluster-scoped objects)
exists() { "${K[@]}" ${1:+-n "$1"} get "$2" >/dev/null 2>&1; }

# wait_for SECONDS DESCRIPTION CMD...: polls CMD every second
wait_for() {
	local secs=$1 what=$2 i
	shift 2
	echo "waiting up to ${secs}s for $what ..."
	for ((i = 0; i < secs; i++)); do
		"$@" && return 0
		sleep 1
	done
	return 1
}
deploy_ready() {
	local want have
	want=$(jget "$NS" "deployment/$APP" replicas)
	have=$(jget "$NS" "deployment/$APP" readyReplicas)
	[ -n "$want" ] && [ "${have:-0}" = "$want" ]
}
pod_ready() { [ "$(jget default pod/jumpbox ready)" = True ]; }
pod_hints() {
	echo "  what the pods look like:" >&2
	"${K[@]}" -n "$1" get pods -o wide >&2 || true
	printf '%s\n' \
		"are nodes Ready? kubectl get nodes (the node agent runs pods)" \
		"are the lab images imported on every node? examples/images/build.sh && minik8s image import examples/images/out/*.tar" \
		"details: kubectl -n $1 describe pods; kubectl -n $1 get events"
}

# jexec ARGS...: kubectl exec into the jumpbox (a terminal only when we have one)
jexec() {
	local tty=()
	[ -t 0 ] && [ -t 1 ] && tty=(-it)
	show_cmd "kubectl exec ${tty[*]:+${tty[*]} }jumpbox -- $*"
	"${K[@]}" exec "${tty[@]}" jumpbox -- "$@"
}
# stderr of captured commands: shown, never mixed into what a step compares
ERRF=$(mktemp /tmp/clusterip-lab.XXXXXX)
trap 'rm -f "$ERRF"' EXIT
show_err() { [ -s "$ERRF" ] && sed 's/\r$//' "$ERRF" >&2; return 0; }

# dns_failure RC ANSWER: step 7 failed; name the cause from what dig and the pod say
dns_failure() {
	local rc=$1 ans=$2 err ns full status
	err=$(tr -d '\r' <"$ERRF" | head -c 400)
	ns=$("${K[@]}" exec jumpbox -- cat /etc/resolv.conf 2>/dev/null | tr -d '\r' | awk '$1 == "nameserver" { print $2; exit }')
	if [ "$rc" = 9 ]; then
		die "dig got no reply from the DNS server ${ns:-(none: the pod has no nameserver line)}" \
			"the pod's /etc/resolv.conf names nameserver ${ns:-nothing}: the node agent writes the cluster DNS address (--cluster-dns, default 10.96.0.10) there" \
			"is the node's DNS running? minik8s status lists 'dns' among the components (not with --disable-dns)" \
			"from the jumpbox's node: dig @${ns:-10.96.0.10} $SVC_HOST"
	elif [ "$rc" != 0 ] && [[ "$err" != *"command terminated with exit code"* ]]; then
		die "kubectl exec jumpbox -- dig failed (exit $rc): $err" \
			"kubectl exec goes API server -> node agent -> container: kubectl describe pod jumpbox"
	elif [ "$rc" != 0 ]; then
		die "dig failed inside the jumpbox (exit $rc): $err" \
			"dig exit codes: 1 usage, 8 no file, 9 no reply, 10 internal error"
	elif [ -z "$ans" ]; then
		full=$("${K[@]}" exec jumpbox -- dig +time=2 +tries=1 "$SVC_HOST" 2>/dev/null | tr -d '\r')
		status=$(sed -n 's/.*status: \([A-Z]*\).*/\1/p' <<<"$full" | head -1)
		die "the DNS server ${ns:-?} answered ${status:-without an answer} for $SVC_HOST: it has no record of service $APP" \
			"the cluster DNS learns services from the API server; kubectl -n $NS get service $APP shows the service exists" \
			"the node's log (DATA_DIR/minik8s.log) tells whether its DNS lost its watch on the API server"
	else
		die "the DNS answer for $SVC_HOST was '$(tr '\n' ' ' <<<"$ans")', the service's ClusterIP is $CLUSTER_IP" \
			"a different address: a stale record from an earlier service of that name, or another DNS server than the cluster's (${ns:-?})" \
			"compare: kubectl -n $NS get service $APP -o wide"
	fi
}

need_exec() {
	if ! "${K[@]}" exec --help >/dev/null 2>&1; then
		die "'${K[*]} exec' is not available" \
			"this step runs commands inside the jumpbox: install the real kubectl (https://kubernetes.io/docs/tasks/tools/) or set KUBECTL=" \
			"everything up to here worked; rerun the script afterwards (it picks up where it left off)"
	fi
}

# ---------------------------------------------------------------------------
if [ "$CLEANUP" = 1 ]; then
	STEP=0 PAUSE=no
	step "remove what the lab created (namespace $NS with $APP, pod jumpbox)"
	rc=0
	kc -n "$NS" delete service "$APP" --ignore-not-found --timeout=60s || rc=1
	kc -n "$NS" delete deployment "$APP" --ignore-not-found --timeout=60s || rc=1
	kc delete pod jumpbox --ignore-not-found --timeout=60s || rc=1
	kc delete namespace "$NS" --ignore-not-found --timeout=60s || rc=1
	[ $rc = 0 ] || die "some objects could not be deleted (see above)" "is the cluster reachable? kubectl get ns"
	ok "cleaned up"
	exit 0
fi

echo "${B}The ClusterIP lab${N} with '${K[*]}' against ${KUBECONFIG:-the default kubeconfig}"

# 1 ---------------------------------------------------------------------------
step "the cluster answers and has nodes"
kc get nodes -o wide ||
	die "cannot reach the cluster" \
		"is minik8s running? minik8s status (start it: minik8s up)" \
		"KUBECONFIG=${KUBECONFIG:-unset} (minik8s writes /etc/minik8s/kubeconfig, readable by root)"
NODES=$("${K[@]}" get nodes --no-headers 2>/dev/null | grep -c ' Ready' || true)
if [ "${NODES:-0}" = 0 ]; then
	warn "no node is Ready: pods will stay Pending until a node agent runs (minik8s up starts one)"
else
	ok "$NODES node(s) Ready"
fi

# 2 ---------------------------------------------------------------------------
step "create the namespace $NS"
if exists "" "namespace/$NS"; then
	ok "namespace $NS exists already"
else
	kc create namespace "$NS" || die "could not create namespace $NS" "see the error above"
fi

# 3 ---------------------------------------------------------------------------
step "the app: deployment $APP, 3 replicas of the echo server"
echo "(the manifest is 'kubectl -n $NS create deployment $APP --image=$ECHO_IMAGE --replicas=3 --port=80'"
echo " plus the downward-API env NODE_IP, POD_IP, POD_NAME that the echo server prints)"
sed "s#image: minik8s.local/echo:1#image: $ECHO_IMAGE#" "$HERE/php-echo.yaml" | kc apply -f - ||
	die "could not create deployment $APP" "see the error above"
if ! wait_for "$WAIT_TIMEOUT" "3 ready replicas" deploy_ready; then
	pod_hints "$NS"
	have=$(jget "$NS" "deployment/$APP" readyReplicas)
	die "deployment $APP has ${have:-0} ready replicas (want 3) after ${WAIT_TIMEOUT}s" \
		"the deployment controller creates the pods, the scheduler spreads them, node agents start them"
fi
kc -n "$NS" get pods -o wide
ok "3 replicas ready (on a multi-node cluster they spread over the nodes)"

# 4 ---------------------------------------------------------------------------
step "a jumpbox pod in the default namespace, like a bastion host"
if exists default pod/jumpbox; then
	ok "pod jumpbox exists already (it stays for later labs)"
else
	kc run jumpbox --image="$JUMPBOX_IMAGE" --image-pull-policy=IfNotPresent ||
		die "could not create pod jumpbox" "see the error above"
fi
if ! wait_for "$WAIT_TIMEOUT" "the jumpbox to be Ready" pod_ready; then
	pod_hints default
	die "pod jumpbox is not Ready after ${WAIT_TIMEOUT}s (phase: $(jget default pod/jumpbox phase))"
fi
need_exec
out=$(jexec curl -sS -m 5 localhost:80 2>"$ERRF")
rc=$?
echo "$out"
show_err
[ $rc = 0 ] || die "curl localhost:80 inside the jumpbox failed (exit $rc): $(head -c 300 "$ERRF")" \
	"kubectl exec goes API server -> node agent -> container: kubectl logs jumpbox, kubectl describe pod jumpbox"
[[ "$out" == *Welcome* ]] || warn "no welcome page: is the jumpbox image $JUMPBOX_IMAGE the lab's?"
ok "the jumpbox's web server answers"

# 5 ---------------------------------------------------------------------------
step "no service yet: the name does not resolve, the request FAILS"
kc -n "$NS" get services
if exists "$NS" "service/$APP"; then
	warn "service $APP exists already (an earlier run): skipping the failing request; to see it, run --cleanup first"
else
	jexec curl -sS -m 5 "$SVC_HOST:80"
	rc=$?
	case $rc in
	0) die "curl $SVC_HOST succeeded before the service exists" \
		"the cluster DNS should answer NXDOMAIN for a service that does not exist" ;;
	6) ok "curl failed as it should: the name does not resolve (curl exit 6)" ;;
	*) warn "curl failed with exit $rc; expected 6 (could not resolve host): is the cluster DNS running?" ;;
	esac
fi

# 6 ---------------------------------------------------------------------------
step "create the ClusterIP service"
if ! exists "$NS" "service/$APP"; then
	kc -n "$NS" expose deployment "$APP" --port=80 --type=ClusterIP ||
		die "kubectl expose failed" "see the error above"
fi
kc -n "$NS" get services
CLUSTER_IP=$(jget "$NS" "service/$APP" clusterIP)
[[ "$CLUSTER_IP" =~ ^[0-9a-f.:]+$ ]] || die "service $APP has no ClusterIP ('$CLUSTER_IP')" \
	"the API server allocates it from the service CIDR (--service-cidr)"
ok "service $APP has ClusterIP $CLUSTER_IP"
kc -n "$NS" get endpoints "$APP" || true

# 7 ---------------------------------------------------------------------------
step "DNS maps the service name to that ClusterIP"
# the answer is dig's stdout alone; its stderr and kubectl's go to $ERRF
for try in 1 2 3 4 5; do
	got=$(jexec dig +short +time=2 +tries=1 "$SVC_HOST" 2>"$ERRF")
	rc=$?
	got=${got//$'\r'/}
	[ -n "$got" ] && echo "$got"
	show_err
	[ $rc = 0 ] && [ "$got" = "$CLUSTER_IP" ] && break
	[ $try = 5 ] || sleep 2
done
if [ $rc != 0 ] || [ "$got" != "$CLUSTER_IP" ]; then
	dns_failure "$rc" "$got"
fi
ok "$SVC_HOST -> $CLUSTER_IP"

# 8 ---------------------------------------------------------------------------
step "pod-to-pod through the service: $REQUESTS requests, the replies rotate over the replicas"
out=$(jexec /bin/bash -c "for i in \$(seq $REQUESTS); do curl -s -m 3 $SVC_HOST:80 || echo \"request \$i failed (curl exit \$?)\"; done" 2>"$ERRF")
out=${out//$'\r'/}
echo "$out"
show_err
answers=$(grep -c '^node=' <<<"$out" || true)
pods=$(grep -o ' pod=[^ ]*' <<<"$out" | sort -u | wc -l)
nodes=$(grep -o '^node=[^ ]*' <<<"$out" | sort -u | wc -l)
[ "$answers" = "$REQUESTS" ] || die "$((REQUESTS - answers)) of $REQUESTS requests failed" \
	"the node's balancer turns ClusterIP:80 into a pod's IP (nft list ruleset on the jumpbox's node)" \
	"kubectl -n $NS get endpoints $APP must list the 3 pod IPs"
# 12 requests over 3 replicas all landing on one is a chance of 1 in 177147: a real
# balancer failure, not bad luck
[ "$pods" -ge 2 ] || [ "$REQUESTS" -lt 6 ] || die "all $REQUESTS replies came from one pod" \
	"the balancer should spread connections over every endpoint"
ok "$answers replies from $pods different pod(s) on $nodes node(s)"
echo
echo "${B}Done.${N} Try it yourself (ctrl+c to stop):"
echo "  kubectl exec -it jumpbox -- /bin/bash -c \"while true; do curl -s $SVC_HOST:80; done\""
echo "Remove the lab: $0 --cleanup"
