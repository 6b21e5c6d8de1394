#!/bin/bash
# Persistent storage end to end, for real (root, runc, network namespaces): one
# `minik8s server` with its in-process agent inside a "node" network namespace of
# this test, with its own data dir. Covers the built-in local-path StorageClass
# (kubectl get sc shows it as the default), examples/pvc.yaml (a claim waiting for
# its first consumer, provisioned on the pod's node under DATA_DIR/storage, bound;
# the pod writes a file), a second pod on the same claim reading it back through a
# readOnly mount, a pod whose claim does not exist (Pending, FailedScheduling naming
# the claim), deleting the claim (reclaim Delete: the volume and its directory go),
# a static hostPath volume with Retain (bound by the binder, Released with its data
# once the claim goes), and bad manifests (422 naming the field, immutable spec).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"

node_require storage runc jq curl ip nsenter busybox kubectl
NODE=stor1
node_init stor 192.168.78.2
k() { "${IN[@]}" kubectl --kubeconfig "$KUBECONFIG" --request-timeout 20s "$@"; }

node_up

# poll JQ over GET PATH until it prints WANT (at most TRIES x 0.1 s); sets GOT
GOT=
wait_jq() {
	local path=$1 filter=$2 want=$3 tries=${4:-300} i
	for ((i = 0; i < tries; i++)); do
		api GET "$path"
		GOT=$(jqb "$filter")
		[ "$GOT" == "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
PVCS=/api/v1/namespaces/default/persistentvolumeclaims
PODS=/api/v1/namespaces/default/pods

# ---- the built-in class ----
out=$(k get sc 2>&1)
expect_match "kubectl get sc: local-path is the default" "$out" \
	'local-path \(default\) +rancher\.io/local-path +Delete +WaitForFirstConsumer +false'
api GET /api/v1/nodes/$NODE
expect_eq "node publishes its local-path directory" \
	"$(jqb '.metadata.annotations["minik8s.io/local-path-dir"]')" "$DATA/storage"

# ---- examples/pvc.yaml: claim + writer pod ----
sed -e "s|image: busybox:1.36|image: $IMG\n    imagePullPolicy: Never|" "$ROOT/examples/pvc.yaml" >"$T/pvc.yaml"
out=$(k apply -f "$T/pvc.yaml" 2>&1)
expect_match "kubectl apply examples/pvc.yaml" "$out" 'persistentvolumeclaim/data created.*pod/writer created'
api GET $PVCS/data
expect_eq "claim got the default class" "$(jqb .spec.storageClassName)" local-path
if wait_jq "$PODS/writer" .status.phase Running 600; then pass "writer pod runs"
else fail "writer pod runs" "phase $GOT; $(k describe pod writer 2>&1 | tail -5)"; fi
if wait_jq $PVCS/data .status.phase Bound 100; then pass "claim bound"; else fail "claim bound" "phase $GOT"; fi
api GET $PVCS/data
PV=$(jqb .spec.volumeName)
CUID=$(jqb .metadata.uid)
expect_eq "volume named after the claim" "$PV" "pvc-$CUID"
expect_eq "claim annotations" "$(jqb '[.metadata.annotations["pv.kubernetes.io/bind-completed"], .metadata.annotations["volume.kubernetes.io/selected-node"]] | join(" ")')" "yes $NODE"
expect_eq "claim status capacity and modes" "$(jqb '.status.capacity.storage + " " + (.status.accessModes|join(","))')" "1Gi ReadWriteOnce"
api GET /api/v1/persistentvolumes/$PV
DIR=$DATA/storage/pvc-${CUID}_default_data
expect_eq "volume: hostPath under the agent's data dir" "$(jqb .spec.hostPath.path)" "$DIR"
expect_eq "volume: node affinity to the pod's node" \
	"$(jqb '.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0] | .key + " " + .operator + " " + .values[0]')" \
	"kubernetes.io/hostname In $NODE"
expect_eq "volume: Bound to default/data, Delete, local-path" \
	"$(jqb '[.status.phase, .spec.claimRef.namespace + "/" + .spec.claimRef.name, .spec.persistentVolumeReclaimPolicy, .spec.storageClassName] | join(" ")')" \
	"Bound default/data Delete local-path"
out=$(k get pv "$PV" 2>&1)
expect_match "kubectl get pv columns" "$out" \
	"NAME +CAPACITY +ACCESS MODES +RECLAIM POLICY +STATUS +CLAIM +STORAGECLASS +VOLUMEATTRIBUTESCLASS +REASON +AGE.*$PV +1Gi +RWO +Delete +Bound +default/data +local-path +<unset>"
out=$(k get pvc data 2>&1)
expect_match "kubectl get pvc columns" "$out" \
	"NAME +STATUS +VOLUME +CAPACITY +ACCESS MODES +STORAGECLASS +VOLUMEATTRIBUTESCLASS +AGE.*data +Bound +$PV +1Gi +RWO +local-path +<unset>"
for _ in $(seq 100); do [ -f "$DIR/hello" ] && break; sleep 0.1; done
expect_eq "the pod's file is in the volume's directory" "$(cat "$DIR/hello" 2>&1)" hello-storage
expect_eq "the directory is world-writable" "$(stat -c %a "$DIR" 2>&1)" 777

# ---- a new pod on the same claim reads it (read-only mount) ----
k delete pod writer --wait=true >/dev/null 2>&1
cat >"$T/reader.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: $IMG
    imagePullPolicy: Never
    command: ["sh", "-c", "cat /data/hello; touch /data/new 2>/dev/null && echo WRITABLE || echo READONLY; sleep 3600"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes:
  - name: d
    persistentVolumeClaim: {claimName: data, readOnly: true}
EOF
k apply -f "$T/reader.yaml" >/dev/null 2>&1
if wait_jq "$PODS/reader" .status.phase Running 300; then pass "reader pod runs"
else fail "reader pod runs" "phase $GOT"; fi
logs=
for _ in $(seq 100); do logs=$(k logs reader 2>&1); [[ "$logs" == *ONLY* || "$logs" == *WRITABLE* ]] && break; sleep 0.1; done
expect_eq "a second pod reads the first pod's file, read-only" "$(tr '\n' ' ' <<<"$logs")" "hello-storage READONLY "

# ---- a pod whose claim does not exist ----
cat >"$T/orphan.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata: {name: orphan}
spec:
  containers: [{name: app, image: $IMG, imagePullPolicy: Never}]
  volumes: [{name: d, persistentVolumeClaim: {claimName: nope}}]
EOF
k apply -f "$T/orphan.yaml" >/dev/null 2>&1
ev=
for _ in $(seq 100); do
	api GET "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dorphan"
	ev=$(jqb '[.items[] | select(.reason=="FailedScheduling") | .message] | first // ""')
	[ -n "$ev" ] && break
	sleep 0.1
done
expect_match "missing claim: FailedScheduling names it" "$ev" 'persistentvolumeclaim "nope" not found'
api GET "$PODS/orphan"
expect_eq "missing claim: pod stays Pending, unscheduled" "$(jqb '.status.phase + " " + (.spec.nodeName // "-")')" "Pending -"
k delete pod orphan --wait=false >/dev/null 2>&1

# ---- deleting the claim: reclaim Delete removes the volume and its directory ----
k delete pod reader --wait=true >/dev/null 2>&1
k delete pvc data --wait=true >/dev/null 2>&1
if wait_jq "/api/v1/persistentvolumes/$PV" .code 404 300; then pass "claim deleted: volume deleted"
else fail "claim deleted: volume deleted" "$(jqb .status.phase) $(jqb .metadata.finalizers)"; fi
if [ ! -e "$DIR" ]; then pass "claim deleted: directory removed"; else fail "claim deleted: directory removed" "$DIR still there"; fi

# ---- a static volume with Retain ----
mkdir -p "$T/static"
cat >"$T/static.yaml" <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-pv, labels: {tier: gold}}
spec:
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce, ReadOnlyMany]
  storageClassName: manual
  hostPath: {path: $T/static/vol, type: DirectoryOrCreate}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: keep}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  selector: {matchLabels: {tier: gold}}
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: $IMG
    imagePullPolicy: Never
    command: ["sh", "-c", "echo kept > /v/file && sleep 3600"]
    volumeMounts: [{name: v, mountPath: /v}]
  volumes: [{name: v, persistentVolumeClaim: {claimName: keep}}]
EOF
k apply -f "$T/static.yaml" >/dev/null 2>&1
api GET /api/v1/persistentvolumes/static-pv
expect_eq "static volume defaults: Retain, Filesystem" "$(jqb '.spec.persistentVolumeReclaimPolicy + " " + .spec.volumeMode')" "Retain Filesystem"
if wait_jq $PVCS/keep .spec.volumeName static-pv 100; then pass "static: the binder binds the claim to the matching volume"
else fail "static: the binder binds the claim to the matching volume" "volumeName $GOT"; fi
if wait_jq /api/v1/persistentvolumes/static-pv .status.phase Bound 100; then pass "static: volume Bound"
else fail "static: volume Bound" "phase $GOT"; fi
if wait_jq "$PODS/keeper" .status.phase Running 300; then pass "static: pod runs"; else fail "static: pod runs" "phase $GOT"; fi
for _ in $(seq 100); do [ -f "$T/static/vol/file" ] && break; sleep 0.1; done
k delete pod keeper --wait=true >/dev/null 2>&1
k delete pvc keep --wait=true >/dev/null 2>&1
if wait_jq /api/v1/persistentvolumes/static-pv .status.phase Released 100; then pass "static Retain: volume Released"
else fail "static Retain: volume Released" "phase $GOT"; fi
sleep 1
api GET /api/v1/persistentvolumes/static-pv
expect_eq "static Retain: volume stays Released" "$HTTP_CODE $(jqb .status.phase)" "200 Released"
expect_eq "static Retain: data kept" "$(cat "$T/static/vol/file" 2>&1)" kept

# ---- bad manifests ----
api_json POST $PVCS '{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"bad"},"spec":{"accessModes":["ReadWriteSometimes"]}}'
expect_status "bad claim: 422 Invalid" 422 Invalid
expect_eq "bad claim: causes name the fields" "$(jqb '[.details.causes[].field] | sort | join(" ")')" "spec.accessModes spec.resources[storage]"
out=$(printf 'apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: bad2}\nspec:\n  accessModes: [ReadWriteOnce]\n  resources: {requests: {storage: -1Gi}}\n' | k apply -f - 2>&1)
expect_match "kubectl: bad claim size named" "$out" 'spec\.resources\.requests\[storage\]: Invalid value'
api_json POST /api/v1/persistentvolumes '{"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"badpv"},"spec":{"accessModes":["ReadWriteOnce"],"hostPath":{"path":"/x"}}}'
expect_eq "bad volume: 422 naming spec.capacity" "$HTTP_CODE $(jqb '[.details.causes[].field] | join(" ")')" "422 spec.capacity"
api_json POST /apis/storage.k8s.io/v1/storageclasses '{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"badsc"},"volumeBindingMode":"Later"}'
expect_eq "bad class: 422 naming provisioner and volumeBindingMode" "$HTTP_CODE $(jqb '[.details.causes[].field] | join(" ")')" "422 provisioner volumeBindingMode"
out=$(printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: typo}\nspec:\n  containers: [{name: a, image: x}]\n  volumes: [{name: d, persistentVolumeClaim: {claimNam: data}}]\n' | k apply --dry-run=server -f - 2>&1)
expect_match "strict validation knows claim volumes" "$out" 'unknown field "spec\.volumes\[0\]\.persistentVolumeClaim\.claimNam"'
cat >"$T/c2.yaml" <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: imm}
spec:
  storageClassName: manual
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
EOF
k apply -f "$T/c2.yaml" >/dev/null 2>&1
out=$(k patch pvc imm --type merge -p '{"spec":{"accessModes":["ReadWriteMany"]}}' 2>&1)
expect_match "claim spec is immutable" "$out" 'spec: Forbidden: spec is immutable after creation'
out=$(k patch sc local-path --type merge -p '{"provisioner":"x.io/y"}' 2>&1)
expect_match "class provisioner is immutable" "$out" 'provisioner: Forbidden: updates to provisioner are forbidden'
out=$(k create -f "$T/c2.yaml" --dry-run=server -o jsonpath='{.metadata.name}' 2>&1)
expect_match "dry-run=server on a claim" "$out" 'already exists|^imm$'

done_testing
