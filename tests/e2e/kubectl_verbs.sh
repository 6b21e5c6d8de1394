#!/bin/bash
# The README's kubectl table, one check per row: the real kubectl against a real
# one-node cluster (tests/lib/cluster.sh: `minik8s up` in a network namespace of its
# own, runc pods of the lab's images), with every kubectl release installed: 1.32
# (/usr/bin/kubectl) and Debian's kubernetes-client 1.20 (unpacked by
# scripts/deps.sh test to /opt/minik8s/kubernetes-client). Each version works in a
# namespace of its own. A row prints "PASS: kubectl 1.NN ROW"; rows the table lists as
# refused check that the refusal is the one the table names (not some other error).
# KUBECTL_VERSIONS="1.32" limits the run to some versions.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1 CL_ID=mkkv$$ CL_NET=192.168.244
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
OLD_KUBECTL=${OLD_KUBECTL:-/opt/minik8s/kubernetes-client/usr/bin/kubectl}
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail kubectl_verbs "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft /usr/bin/kubectl; do
	command -v "$tool" >/dev/null || { fail kubectl_verbs "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$OLD_KUBECTL" ] || fail kubectl_verbs_1.20 "$OLD_KUBECTL missing (sh scripts/deps.sh test unpacks Debian's kubernetes-client)"
[ -x "$MINIK8S" ] || { fail kubectl_verbs "build/minik8s missing"; exit 0; }

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
cluster_import 1 "$T/images/echo.tar" "$T/images/jumpbox.tar" >"$T/import.log" 2>&1 ||
	{ fail image_import "$(tail -2 "$T/import.log")"; exit 0; }
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }

# ---- helpers: k runs the version under test in the node, in namespace $NS ----
k() { IN 1 env HOME="$T/home-$VN" EDITOR="$T/editor.sh" timeout 60 "$KBIN" --kubeconfig "$CL_KUBECONFIG" "$@"; }
kn() { k -n "$NS" "$@"; }
# ok RE CMD...: CMD succeeds and its output (stdout+stderr) matches RE
ok() {
	local re=$1 out; shift
	out=$("$@" 2>&1) || { echo "'$*' failed: ${out:0:400}"; return 1; }
	[[ "$out" =~ $re ]] || { echo "'$*' printed '${out:0:400}', want /$re/"; return 1; }
}
# refused RE CMD...: CMD fails and says why (matches RE)
refused() {
	local re=$1 out; shift
	out=$("$@" 2>&1) && { echo "'$*' succeeded: ${out:0:300}"; return 1; }
	[[ "$out" =~ $re ]] || { echo "'$*' failed otherwise: '${out:0:400}', want /$re/"; return 1; }
}
# eq WANT CMD...: CMD's output is exactly WANT
eq() {
	local want=$1 out; shift
	out=$("$@" 2>&1)
	[ "$out" == "$want" ] || { echo "'$*' printed '${out:0:300}', want '$want'"; return 1; }
}
# row NAME FUNCTION: one table row for the version under test
row() {
	local out
	if out=$("$2" 2>&1); then pass "kubectl $VN $1"; else fail "kubectl $VN $1" "$(tail -3 <<<"$out" | tr '\n' '|')"; fi
}
podsready() { [ "$(kn get pods -o json 2>/dev/null | jq '[.items[] | select(any(.status.conditions[]?; .type=="Ready" and .status=="True"))] | length')" -ge "$1" ]; }
# svc_yaml NAME PORT [LABEL]: a Service manifest (LABEL as "key: value")
svc_yaml() {
	local labels=''
	[ -n "${3:-}" ] && labels=", labels: {$3}"
	printf 'apiVersion: v1\nkind: Service\nmetadata: {name: %s%s}\nspec: {selector: {app: web}, ports: [{port: %s, targetPort: 80}]}\n' "$1" "$labels" "$2"
}
printf '#!/bin/sh\nsed -i "s/^  replicas: .*/  replicas: 3/" "$1"\n' >"$T/editor.sh"
chmod +x "$T/editor.sh"

# ---- the rows ----
r_get() {
	ok '^NAME +READY +STATUS +RESTARTS +AGE' kn get pods &&
		ok 'IP +NODE +NOMINATED NODE' kn get pods -o wide &&
		eq List jq -r .kind <<<"$(kn get pods -o json 2>/dev/null)" &&
		ok '^apiVersion: v1' kn get pod jb -o yaml &&
		eq pod/jb kn get pod jb -o name &&
		ok '^web-[a-z0-9]+-[a-z0-9]+ web-' kn get pods -l app=web -o 'jsonpath={.items[*].metadata.name}' &&
		ok "$NS +jb " k get pods -A &&
		ok 'run=jb' kn get pods --show-labels &&
		ok '^deployment.apps/web$' kn get deploy -o name &&
		ok 'node1 +Ready' k get nodes
}
r_get_watch() { ok '^NAME.*'$'\n''jb ' kn get pods -w --request-timeout=3s; }
r_describe() {
	ok 'Replicas: +2 desired \| 2 updated' kn describe deployment web &&
		ok 'Events:' kn describe pod jb &&
		ok 'Endpoints:' kn describe service websvc
}
r_create() {
	ok "^namespace/$NS-x created" k create namespace "$NS-x" &&
		ok '^deployment.apps/made created' kn create deployment made --image=minik8s.local/echo:1 &&
		ok '^service/madesvc created' kn create service clusterip madesvc --tcp=80:80 &&
		ok '^service/madeext created' kn create service externalname madeext --external-name example.org &&
		ok '^service/fromfile created' kn create -f - "${VALIDATE[@]}" <<<"$(svc_yaml fromfile 82)"
}
# secret_value NAME KEY: a Secret's value, decoded as users do (jsonpath + base64 -d)
secret_value() { kn get secret "$1" -o "jsonpath={.data.$2}" | base64 -d; }
r_configmap_secret() {
	[ -f "$T/tls.key" ] || openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" \
		-out "$T/tls.crt" -days 1 -subj /CN=verbs >/dev/null 2>&1
	ok '^configmap/conf created' kn create configmap conf --from-literal=color=blue \
		--from-file=edit.sh="$T/editor.sh" &&
		ok '^NAME +DATA +AGE'$'\n''conf +2 ' kn get configmap conf &&
		ok '^secret/pw created' kn create secret generic pw --from-literal='pass=p@ss w0rd' &&
		eq 'p@ss w0rd' secret_value pw pass &&
		ok '^secret/tls created' kn create secret tls tls --cert="$T/tls.crt" --key="$T/tls.key" &&
		ok '^secret/reg created' kn create secret docker-registry reg --docker-server=reg.example:5000 \
			--docker-username=u --docker-password=p &&
		ok '^NAME +TYPE +DATA +AGE'$'\n''pw +Opaque +1 +.*'$'\n''reg +kubernetes.io/dockerconfigjson +1 +.*'$'\n''tls +kubernetes.io/tls +2 ' \
			kn get secrets pw reg tls
}
r_apply() {
	ok '^service/applied created' kn apply -f - "${VALIDATE[@]}" <<<"$(svc_yaml applied 81)" &&
		ok '^service/applied unchanged' kn apply -f - "${VALIDATE[@]}" <<<"$(svc_yaml applied 81)" &&
		ok '^service/applied configured' kn apply -f - "${VALIDATE[@]}" <<<"$(svc_yaml applied 81 'tier: x')" &&
		eq x kn get service applied -o 'jsonpath={.metadata.labels.tier}'
}
r_delete() {
	ok 'service "fromfile" deleted' kn delete service fromfile &&
		ok 'service "applied" deleted' kn delete -f - <<<"$(svc_yaml applied 81)" &&
		kn label service madesvc gone=yes >/dev/null &&
		ok 'service "madesvc" deleted' kn delete service -l gone=yes &&
		refused NotFound kn get service madesvc &&
		ok "namespace \"$NS-x\" deleted" k delete namespace "$NS-x" --timeout=60s
}
r_delete_dry_run_server() {
	ok 'deployment.apps "made" deleted \(server dry run\)' kn delete deployment made --dry-run=server &&
		eq deployment.apps/made kn get deployment made -o name
}
r_edit() {
	ok '^deployment.apps/web edited' kn edit deployment web && eq 3 kn get deployment web -o 'jsonpath={.spec.replicas}'
}
r_patch() {
	ok 'patched' kn patch deployment made --type=merge -p '{"metadata":{"labels":{"m":"1"}}}' &&
		ok 'patched' kn patch deployment made -p '{"metadata":{"labels":{"s":"1"}}}' &&
		ok 'patched' kn patch deployment made --type=json -p '[{"op":"add","path":"/metadata/labels/j","value":"1"}]' &&
		eq '1 1 1' kn get deployment made -o 'jsonpath={.metadata.labels.m} {.metadata.labels.s} {.metadata.labels.j}'
}
r_scale() { ok 'scaled' kn scale deployment web --replicas=2 && eq 2 kn get deployment web -o 'jsonpath={.spec.replicas}'; }
r_rollout() {
	ok 'successfully rolled out' kn rollout status deployment web --timeout=120s &&
		ok 'restarted' kn rollout restart deployment web &&
		ok 'successfully rolled out' kn rollout status deployment web --timeout=120s &&
		ok 'REVISION +CHANGE-CAUSE'$'\n''1 .*'$'\n''2 ' kn rollout history deployment web &&
		ok 'rolled back' kn rollout undo deployment web &&
		ok 'successfully rolled out' kn rollout status deployment web --timeout=120s
}
r_set() {
	ok 'image updated|^$' kn set image deployment/made echo=minik8s.local/jumpbox:1 &&
		eq minik8s.local/jumpbox:1 kn get deployment made -o 'jsonpath={.spec.template.spec.containers[0].image}' &&
		ok 'env updated' kn set env deployment/made FOO=bar &&
		eq FOO=bar kn get deployment made -o 'jsonpath={.spec.template.spec.containers[0].env[0].name}={.spec.template.spec.containers[0].env[0].value}'
}
r_expose() {
	ok '^service/websvc exposed' kn expose deployment web --port=80 --name=websvc &&
		ok '^[0-9.]+$' kn get service websvc -o 'jsonpath={.spec.clusterIP}'
}
r_run() {
	ok '^pod/once created' kn run once --image=minik8s.local/jumpbox:1 --image-pull-policy=IfNotPresent --restart=Never \
		--command -- sh -c 'echo ran-once' &&
		wait_until 1200 succeeded once || { echo "pod once: $(kn get pod once 2>&1)"; return 1; }
}
succeeded() { [ "$(kn get pod "$1" -o 'jsonpath={.status.phase}' 2>/dev/null)" == Succeeded ]; }
r_logs() {
	ok '^ran-once$' kn logs once &&
		ok 'echo-server: listening' kn logs deployment/web --tail=1 &&
		ok 'echo-server: listening' kn logs -l app=web --tail=1 --prefix
}
r_exec() { eq "hi $NS" kn exec jb -- sh -c "echo hi \$0" "$NS"; }
r_exec_refused() { refused 'SPDY is not supported by minik8s: exec needs a WebSocket' kn exec jb -- true; }
r_cp() {
	echo "copied-$NS" >"$T/cp-$VN.txt"
	kn cp "$T/cp-$VN.txt" jb:/tmp/cp.txt && eq "copied-$NS" kn exec jb -- cat /tmp/cp.txt
}
r_cp_refused() { echo x >"$T/cp-$VN.txt"; refused 'SPDY is not supported' kn cp "$T/cp-$VN.txt" jb:/tmp/cp.txt; }
r_label_annotate() {
	ok 'labeled' kn label pod jb tier=x && eq x kn get pod jb -o 'jsonpath={.metadata.labels.tier}' &&
		ok 'annotated' kn annotate pod jb note=hello --overwrite &&
		eq hello kn get pod jb -o 'jsonpath={.metadata.annotations.note}' &&
		ok 'labeled' kn label pod jb tier- && eq '' kn get pod jb -o 'jsonpath={.metadata.labels.tier}'
}
r_wait() {
	# a pod that ignores SIGTERM takes its grace period to go: wait sees it leave
	kn run slow --image=minik8s.local/jumpbox:1 --image-pull-policy=IfNotPresent --restart=Never \
		--command -- sh -c 'trap "" TERM; while true; do sleep 1; done' >/dev/null &&
		ok 'condition met' kn wait --for=condition=Ready pod/slow --timeout=120s &&
		ok 'condition met' kn wait --for=condition=Ready pod/jb --timeout=60s &&
		kn delete pod slow --grace-period=4 --wait=false >/dev/null &&
		ok 'pod/slow condition met|deleted' kn wait --for=delete pod/slow --timeout=90s &&
		refused NotFound kn get pod slow
}
r_nodes() {
	ok 'cordoned' k cordon node1 && eq true k get node node1 -o 'jsonpath={.spec.unschedulable}' &&
		ok 'uncordoned' k uncordon node1 &&
		ok 'tainted' k taint node node1 "k$NS=v:NoSchedule" && ok 'untainted' k taint node node1 "k$NS=v:NoSchedule-"
}
r_replace() {
	kn get service websvc -o yaml 2>/dev/null | sed 's/^  labels:$/  labels:\n    replaced: "yes"/' >"$T/replace-$VN.yaml"
	ok 'replaced' kn replace "${VALIDATE[@]}" -f "$T/replace-$VN.yaml" && eq yes kn get service websvc -o 'jsonpath={.metadata.labels.replaced}'
}
r_diff() {
	# exit 1: differences found (a new object); the diff shows it
	local out
	out=$(kn diff -f - <<<"$(svc_yaml diffed 83)" 2>&1)
	[ $? == 1 ] && [[ "$out" == *"+  name: diffed"* ]] || { echo "diff: $out"; return 1; }
}
r_discovery() {
	ok 'deployments +deploy +apps/v1 +true +Deployment' k api-resources &&
		ok '(^|'$'\n'')apps/v1'$'\n' k api-versions &&
		ok '(^|'$'\n'')discovery.k8s.io/v1'$'\n' k api-versions &&
		ok 'Server Version.*v1\.32' k version &&
		ok 'is running at .*https://' k cluster-info
}
r_events() { ok 'Scheduled +pod/jb' kn get events; }
# metrics.k8s.io has figures once the agent was scraped twice (15 s apart, the
# default --metric-resolution) after a pod started: poll, bounded
r_top() {
	local i
	for i in $(seq 45); do
		ok '(^|'$'\n'')node1 +[0-9]+m +[0-9]+% +[0-9]+Mi +[0-9]+%' k top nodes >/dev/null 2>&1 &&
			ok '(^|'$'\n'')web-[a-z0-9-]+ +[0-9]+m +[0-9]+Mi' kn top pods >/dev/null 2>&1 && return 0
		sleep 1
	done
	ok '(^|'$'\n'')node1 +[0-9]+m +[0-9]+% +[0-9]+Mi +[0-9]+%' k top nodes &&
		ok '(^|'$'\n'')web-[a-z0-9-]+ +[0-9]+m +[0-9]+Mi' kn top pods
}
r_batch() {
	ok '^job.batch/j created' kn create job j --image=minik8s.local/echo:1 -- true &&
		ok '^cronjob.batch/cj created' kn create cronjob cj --image=minik8s.local/echo:1 --schedule='*/5 * * * *' -- true &&
		ok '^job.batch/cj-now created' kn create job cj-now --from=cronjob/cj &&
		ok '^NAME +SCHEDULE ' kn get cronjob cj
}
# kubectl 1.20 makes CronJobs as batch/v1beta1, which Kubernetes 1.25+ no longer serves
r_job_only() { ok '^job.batch/j created' kn create job j --image=minik8s.local/echo:1 -- true; }
r_cronjob_refused() { refused 'the server could not find the requested resource' kn create cronjob cj --image=minik8s.local/echo:1 --schedule='*/5 * * * *' -- true; }
r_autoscale_refused() { refused 'the server could not find the requested resource' kn autoscale deployment web --max=3; }
# kubectl 1.20 decides whether a kind supports server-side dry run from the
# operations listed in /openapi/v2; minik8s's v2 document has the definitions (for
# validation, explain and edit) but no paths, so 1.20 refuses before sending
r_dry_run_server_refused() { refused "doesn't support dry-run" kn delete deployment made --dry-run=server; }
r_diff_refused() { refused "doesn't support dry-run" kn diff -f - <<<"$(svc_yaml diffed 83)"; }

run_version() {
	KBIN=$1 VN=$2 NS=v${2/./}
	VALIDATE=()
	k create namespace "$NS" >/dev/null 2>&1
	kn create deployment web --image=minik8s.local/echo:1 --replicas=2 >/dev/null 2>&1
	kn run jb --image=minik8s.local/jumpbox:1 --image-pull-policy=IfNotPresent >/dev/null 2>&1
	wait_until 1500 podsready 3 || fail "kubectl $VN setup: 3 pods Ready" "$(kn get pods 2>&1 | tr '\n' '|')"
	row get r_get
	row "get -w" r_get_watch
	row expose r_expose
	row describe r_describe
	row create r_create
	row "create configmap, create secret" r_configmap_secret
	row apply r_apply
	row patch r_patch
	row set r_set
	row run r_run
	row logs r_logs
	row "label, annotate" r_label_annotate
	row wait r_wait
	row edit r_edit
	row scale r_scale
	row rollout r_rollout
	row "cordon, uncordon, taint" r_nodes
	row replace r_replace
	row "api-resources, api-versions, version, cluster-info" r_discovery
	row "get events" r_events
	row "top nodes, top pods" r_top
	row "autoscale: refused (autoscaling not served)" r_autoscale_refused
	if [ "$VN" == 1.20 ]; then
		row "exec: refused (SPDY; WebSocket exec needs kubectl >= 1.30)" r_exec_refused
		row "cp: refused (runs exec over SPDY)" r_cp_refused
		row "--dry-run=server: refused (no dryRun operations in /openapi/v2)" r_dry_run_server_refused
		row "diff: refused (server-side dry run, as above)" r_diff_refused
		row "create job" r_job_only
		row "create cronjob: refused (batch/v1beta1, removed in Kubernetes 1.25)" r_cronjob_refused
	else
		row "create job, create cronjob, create job --from=cronjob" r_batch
		row exec r_exec
		row cp r_cp
		row diff r_diff
		row "delete --dry-run=server" r_delete_dry_run_server
	fi
	row delete r_delete
}

for v in ${KUBECTL_VERSIONS:-1.32 1.20}; do
	case $v in
	1.32) run_version /usr/bin/kubectl 1.32 ;;
	1.20) [ -x "$OLD_KUBECTL" ] && run_version "$OLD_KUBECTL" 1.20 ;;
	esac
done
done_testing
