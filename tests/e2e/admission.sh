#!/bin/bash
# Admission end to end, for real (root, runc, a network namespace of this test):
# `minik8s server` with its in-process agent, driven with the real kubectl.
# LimitRange (examples/limitrange.yaml): `kubectl get limits` / `describe
# limitrange`, a pod without resources gets the defaults (and runs), a container
# above the max and a claim above the max are 403 with upstream's words, a bad
# LimitRange is 422 naming the field. ResourceQuota: `kubectl create quota`, the
# controller fills status.hard/used (`kubectl get quota` REQUEST / LIMIT columns,
# `describe quota`), the third pod against pods=2 is 403 with the numbers, a
# deleted pod gives its unit back, a compute quota wants requests/limits stated, a
# deployment past its quota leaves FailedCreate events and the ReplicaFailure
# condition on its ReplicaSet (`kubectl describe rs`), parallel creates against a
# quota of 1 admit exactly one. NamespaceLifecycle: a namespace held in Terminating
# by a finalizer refuses new content (403, cause NamespaceTerminating) but takes
# updates; kube-system cannot be deleted.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require admission runc jq curl ip nsenter kubectl base64
node_init adm 192.168.81.2
node_up --restart-backoff 1s,2s --disable-dns

# pods that stay Pending (no node has the label): quota and limits are API-side
PENDING='"nodeSelector":{"minik8s.io/nowhere":"x"}'

# ---- LimitRange ----
K create namespace lim >/dev/null 2>&1
OUT=$(K apply -n lim -f "$ROOT/examples/limitrange.yaml" 2>&1)
expect_eq "kubectl apply examples/limitrange.yaml" "$OUT" "limitrange/limits created"
expect_match "kubectl get limits: NAME CREATED AT" "$(K get limits -n lim 2>&1)" \
	$'^NAME +CREATED AT\nlimits +20[0-9-]+T[0-9:]+Z$'
OUT=$(K describe limitrange limits -n lim 2>&1)
expect_match "kubectl describe limitrange: the Container cpu row" "$OUT" \
	'Container +cpu +- +500m +100m +200m +-'
expect_match "kubectl describe limitrange: the claim row" "$OUT" \
	'PersistentVolumeClaim +storage +- +1Gi +- +- +-'
OUT=$(K run plain -n lim --image="$IMG" --image-pull-policy=Never --command -- sleep 3600 2>&1)
expect_eq "pod without resources created" "$OUT" "pod/plain created"
expect_eq "it got the LimitRange's requests and limits" \
	"$(K get pod plain -n lim -o jsonpath='{.spec.containers[0].resources}' 2>&1)" \
	'{"limits":{"cpu":"200m","memory":"128Mi"},"requests":{"cpu":"100m","memory":"64Mi"}}'
expect_eq "and the kubernetes.io/limit-ranger annotation" \
	"$(K get pod plain -n lim -o jsonpath='{.metadata.annotations.kubernetes\.io/limit-ranger}' 2>&1)" \
	"LimitRanger plugin set: cpu, memory request for container plain; cpu, memory limit for container plain"
if wait_until 150 bash -c "[ \"\$(timeout 5 ${IN[*]} kubectl get pod plain -n lim -o jsonpath='{.status.phase}' 2>/dev/null)\" == Running ]"; then
	pass "the defaulted pod runs (runc)"
else
	fail "the defaulted pod runs (runc)" "$(K get pod plain -n lim -o jsonpath='{.status}' 2>&1)"
fi
expect_eq "its QoS class follows the defaults" \
	"$(K get pod plain -n lim -o jsonpath='{.status.qosClass}' 2>&1)" "Burstable"
OUT=$(K run big -n lim --image="$IMG" --overrides='{"spec":{'"$PENDING"',"containers":[{"name":"big","image":"'"$IMG"'","resources":{"limits":{"cpu":"1"}}}]}}' 2>&1)
expect_eq "a container above the max: 403 as upstream words it" "$OUT" \
	'Error from server (Forbidden): pods "big" is forbidden: maximum cpu usage per Container is 500m, but limit is 1'
api_json POST /api/v1/namespaces/lim/pods '{"metadata":{"name":"two"},"spec":{'"$PENDING"',"containers":[{"name":"c","image":"x","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}'
expect_status "two violations: Status 403 Forbidden" 403 Forbidden
expect_eq "both named, in brackets" "$(jqb .message)" \
	'pods "two" is forbidden: [maximum cpu usage per Container is 500m, but limit is 1, maximum memory usage per Container is 256Mi, but limit is 1Gi]'
expect_eq "details: kind pods, name two" "$(jqb '[.details.kind, .details.name] | join(" ")')" "pods two"
OUT=$(K apply -n lim -f - 2>&1 <<'PVC'
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: huge}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
PVC
)
expect_match "a claim above the max: 403" "$OUT" \
	'persistentvolumeclaims "huge" is forbidden: maximum storage usage per PersistentVolumeClaim is 1Gi, but request is 2Gi'
OUT=$(K apply -n lim -f - 2>&1 <<'BAD'
apiVersion: v1
kind: LimitRange
metadata: {name: bad}
spec:
  limits:
  - type: Container
    min: {cpu: "1"}
    max: {cpu: 500m}
BAD
)
expect_match "a LimitRange with min above max: 422 naming the field" "$OUT" \
	'spec.limits\[0\].min\[cpu\]: Invalid value: .*min value 1 is greater than max value 500m'

# ---- ResourceQuota: object counts ----
quota_ready() { [ -n "$(K get quota "$1" -n "$2" -o jsonpath='{.status.hard}' 2>/dev/null)" ]; }
quota_used() { K get quota "$1" -n "$2" -o jsonpath="{.status.used.$3}" 2>/dev/null; }
K create namespace quo >/dev/null 2>&1
expect_eq "kubectl create quota" "$(K create quota q -n quo --hard=pods=2,configmaps=5 2>&1)" \
	"resourcequota/q created"
wait_until 100 quota_ready q quo && pass "the controller fills status.hard" ||
	fail "the controller fills status.hard" "$(K get quota q -n quo -o yaml 2>&1)"
expect_match "kubectl get quota: columns and usage" "$(K get quota -n quo 2>&1)" \
	$'^NAME +AGE +REQUEST +LIMIT\nq +[0-9]+s +configmaps: 1/5, pods: 0/2 *$'
for p in p1 p2; do
	K run "$p" -n quo --image="$IMG" --overrides='{"spec":{'"$PENDING"'}}' >/dev/null 2>&1
done
OUT=$(K run p3 -n quo --image="$IMG" --overrides='{"spec":{'"$PENDING"'}}' 2>&1)
expect_eq "the third pod against pods=2: 403 with the numbers" "$OUT" \
	'Error from server (Forbidden): pods "p3" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'
expect_match "kubectl get quota shows pods: 2/2" "$(K get quota q -n quo --no-headers 2>&1)" 'pods: 2/2'
expect_match "kubectl describe quota: Used and Hard" "$(K describe quota q -n quo 2>&1)" \
	$'Resource +Used +Hard\n-+ +-+ +-+\nconfigmaps +1 +5\npods +2 +2'
K delete pod p1 -n quo --wait=false >/dev/null 2>&1
wait_until 100 bash -c "[ \"\$(timeout 5 ${IN[*]} kubectl get quota q -n quo -o jsonpath='{.status.used.pods}' 2>/dev/null)\" == 1 ]" &&
	pass "a deleted pod gives its unit back" || fail "a deleted pod gives its unit back" "used: $(quota_used q quo pods)"
expect_eq "then a new pod fits" "$(K run p4 -n quo --image="$IMG" --overrides='{"spec":{'"$PENDING"'}}' 2>&1)" "pod/p4 created"
OUT=$(K apply -n quo -f - 2>&1 <<'BAD'
apiVersion: v1
kind: ResourceQuota
metadata: {name: neg}
spec:
  hard: {pods: "-1"}
BAD
)
expect_match "a quota of -1 pods: 422 naming spec.hard[pods]" "$OUT" \
	'spec.hard\[pods\]: Invalid value: .*must be greater than or equal to 0'

# ---- ResourceQuota: an update that adds usage ----
K create namespace sq >/dev/null 2>&1
K create quota q -n sq --hard=services.nodeports=1 >/dev/null 2>&1
wait_until 100 quota_ready q sq || fail "service quota ready" "$(K get quota -n sq -o yaml 2>&1)"
K create service clusterip s -n sq --tcp=80:80,443:443 >/dev/null 2>&1
OUT=$(K patch service s -n sq --type=merge -p '{"spec":{"type":"NodePort"}}' 2>&1)
expect_eq "a service turned NodePort past services.nodeports: 403" "$OUT" \
	'Error from server (Forbidden): services "s" is forbidden: exceeded quota: q, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1'
expect_eq "it stays a ClusterIP service" "$(K get service s -n sq -o jsonpath='{.spec.type}' 2>&1)" "ClusterIP"

# ---- ResourceQuota: compute resources ----
K create namespace cq >/dev/null 2>&1
K create quota compute -n cq --hard=requests.cpu=1,limits.cpu=1 >/dev/null 2>&1
wait_until 100 quota_ready compute cq || fail "compute quota ready" "$(K get quota -n cq -o yaml 2>&1)"
OUT=$(K run c1 -n cq --image="$IMG" --overrides='{"spec":{'"$PENDING"'}}' 2>&1)
expect_eq "a pod without cpu requests and limits: 403 failed quota" "$OUT" \
	'Error from server (Forbidden): pods "c1" is forbidden: failed quota: compute: must specify limits.cpu for: c1; requests.cpu for: c1'
POD='{"spec":{'"$PENDING"',"containers":[{"name":"c","image":"'"$IMG"'","resources":{"requests":{"cpu":"600m"},"limits":{"cpu":"600m"}}}]}}'
expect_eq "a pod stating 600m fits" "$(K run c2 -n cq --image="$IMG" --overrides="$POD" 2>&1)" "pod/c2 created"
expect_eq "the quota charged it at admission" "$(quota_used compute cq 'requests\.cpu')" "600m"
OUT=$(K run c3 -n cq --image="$IMG" --overrides="$POD" 2>&1)
expect_eq "a second 600m: 403 with both resources" "$OUT" \
	'Error from server (Forbidden): pods "c3" is forbidden: exceeded quota: compute, requested: limits.cpu=600m,requests.cpu=600m, used: limits.cpu=600m,requests.cpu=600m, limited: limits.cpu=1,requests.cpu=1'
expect_match "kubectl get quota: limits.* in LIMIT" "$(K get quota compute -n cq --no-headers 2>&1)" \
	'^compute +[0-9]+s +requests.cpu: 600m/1 +limits.cpu: 600m/1 *$'

# ---- a deployment past its quota ----
K create namespace dq >/dev/null 2>&1
K create quota q -n dq --hard=pods=2 >/dev/null 2>&1
wait_until 100 quota_ready q dq || fail "deployment quota ready" "$(K get quota -n dq -o yaml 2>&1)"
K apply -n dq -f - >/dev/null 2>&1 <<DEP
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {minik8s.io/nowhere: x}
      containers: [{name: c, image: $IMG}]
DEP
rs_failed() { K describe rs -n dq 2>/dev/null | grep -q 'FailedCreate .*exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'; }
wait_until 150 rs_failed && pass "kubectl describe rs: FailedCreate event with the quota message" ||
	fail "kubectl describe rs: FailedCreate event with the quota message" "$(K describe rs -n dq 2>&1 | tail -8)"
expect_match "kubectl describe rs: the ReplicaFailure condition" "$(K describe rs -n dq 2>&1)" \
	$'Conditions:\n +Type +Status +Reason\n +-+ +-+ +-+\n +ReplicaFailure +True +FailedCreate'
expect_match "its message is the quota's refusal" \
	"$(K get rs -n dq -o jsonpath='{.items[0].status.conditions[?(@.type=="ReplicaFailure")].message}' 2>&1)" \
	'^pods "web-[a-z0-9]+-[a-z0-9]+" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2$'
dep_failed() { K get deploy web -n dq -o jsonpath='{.status.conditions[?(@.type=="ReplicaFailure")].reason}' 2>/dev/null | grep -q FailedCreate; }
wait_until 100 dep_failed && pass "the deployment shows the ReplicaFailure condition too" ||
	fail "the deployment shows the ReplicaFailure condition too" "$(K describe deploy web -n dq 2>&1 | grep -A6 Conditions)"
expect_eq "two pods exist, not three" "$(K get pods -n dq --no-headers 2>/dev/null | wc -l)" 2

# ---- parallel creates against a quota of 1 ----
for round in 1 2 3; do
	K create namespace "cc$round" >/dev/null 2>&1
	K create quota one -n "cc$round" --hard=pods=1 >/dev/null 2>&1
	wait_until 100 quota_ready one "cc$round" || fail "quota one ready (round $round)"
	CPIDS=()
	for i in 1 2 3 4; do
		curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
			-o /dev/null -w '%{http_code}\n' -X POST "$API/api/v1/namespaces/cc$round/pods" \
			-d '{"metadata":{"name":"p'"$i"'"},"spec":{'"$PENDING"',"containers":[{"name":"c","image":"x"}]}}' \
			>"$T/cc$round.$i" &
		CPIDS+=($!)
	done
	wait "${CPIDS[@]}"
	CODES=$(cat "$T/cc$round".* | sort | tr '\n' ' ')
	expect_eq "4 parallel creates vs pods=1 (round $round): one 201, three 403" "$CODES" "201 403 403 403 "
	expect_eq "round $round: one pod stored" "$(K get pods -n "cc$round" --no-headers 2>/dev/null | wc -l)" 1
done

# ---- NamespaceLifecycle ----
K create namespace term >/dev/null 2>&1
K create configmap hold -n term --from-literal=a=b >/dev/null 2>&1
K patch configmap hold -n term -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null 2>&1
K delete namespace term --wait=false >/dev/null 2>&1
wait_until 100 bash -c "[ \"\$(timeout 5 ${IN[*]} kubectl get ns term -o jsonpath='{.status.phase}' 2>/dev/null)\" == Terminating ]" &&
	pass "a finalizer in it holds the namespace in Terminating" ||
	fail "a finalizer in it holds the namespace in Terminating" "$(K get ns term -o yaml 2>&1)"
OUT=$(K run late -n term --image="$IMG" 2>&1)
expect_eq "a pod in a terminating namespace: 403" "$OUT" \
	'Error from server (Forbidden): pods "late" is forbidden: unable to create new content in namespace term because it is being terminated'
api_json POST /api/v1/namespaces/term/configmaps '{"metadata":{"generateName":"gen-"}}'
expect_status "a configmap there: Status 403 Forbidden" 403 Forbidden
expect_eq "named by its generateName, cause NamespaceTerminating" \
	"$(jqb '[.details.name, .details.kind, .details.causes[0].reason, .details.causes[0].field, .details.causes[0].message] | join("|")')" \
	"gen-|configmaps|NamespaceTerminating|metadata.namespace|namespace term is being terminated"
expect_eq "an update there is still allowed" "$(K label configmap hold -n term x=y 2>&1)" "configmap/hold labeled"
K patch configmap hold -n term --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null 2>&1
wait_until 100 bash -c "! timeout 5 ${IN[*]} kubectl get ns term >/dev/null 2>&1" &&
	pass "the namespace goes once the finalizer is removed" || fail "the namespace goes once the finalizer is removed"
expect_eq "kubectl delete namespace kube-system: 403" "$(K delete namespace kube-system 2>&1)" \
	'Error from server (Forbidden): namespaces "kube-system" is forbidden: this namespace may not be deleted'
expect_eq "kube-system is still there" "$(K get ns kube-system -o jsonpath='{.status.phase}' 2>&1)" "Active"

done_testing
