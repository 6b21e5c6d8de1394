#!/bin/bash
# End-to-end: a StatefulSet on a real one-node cluster (tests/lib/cluster.sh:
# `minik8s up` in a network namespace of its own, runc pods of the lab's jumpbox
# image, the real kubectl), from examples/statefulset.yaml (3 replicas behind the
# headless service nginx, a claim per replica from the local-path class):
#  - pods come up in order: web-(i+1) is created only after web-i is Ready;
#  - identity: `hostname` inside web-1 is web-1, /etc/hosts has its FQDN, and
#    web-1.nginx.default.svc.cluster.local answers web-1's IP, from the node's
#    cluster DNS and from inside another replica;
#  - storage: data written in web-1's volume survives deleting pod web-1, which
#    comes back under the same name with the same claim www-web-1;
#  - `kubectl scale sts web --replicas=1` removes web-2 before web-1, the claims stay;
#  - a rolling update with a partition replaces only the pods at or above it;
#  - a bad manifest is refused with a 422 naming the field.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1 CL_ID=mksts$$ CL_NET=192.168.246
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail statefulset "must run as root"; done_testing; exit 0; fi
for tool in runc jq curl ip nsenter nft dig "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail statefulset "$tool missing (scripts/deps.sh)"; done_testing; exit 0; }
done
[ -x "$MINIK8S" ] || { fail statefulset "build/minik8s missing"; done_testing; exit 0; }

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; done_testing; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; done_testing; exit 0; }
cluster_import 1 "$T/images/jumpbox.tar" >"$T/import.log" 2>&1 ||
	{ fail image_import "$(tail -2 "$T/import.log")"; done_testing; exit 0; }
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; done_testing; exit 0; }
pass "node up"

# show what the cluster looked like when a check failed
on_exit '[ "$FAILED" = 1 ] && { KC get sts,pods,pvc,endpoints -o wide; KC get events --sort-by=.lastTimestamp | tail -30; tail -30 "$T/up1.out"; } >&2'

# jp OBJ JSONPATH
jp() { KC get "$1" -o "jsonpath=$2" 2>/dev/null; }
pod_ready() { [ "$(jp "pod/$1" '{.status.conditions[?(@.type=="Ready")].status}')" == True ]; }
all_ready() { [ "$(jp sts/web '{.status.readyReplicas}')" == "$1" ]; }
ts() { date -d "$1" +%s 2>/dev/null || echo 0; }
# wait_s SECONDS CMD...: runs CMD every 0.2 s until it succeeds, for at most SECONDS
# (a deadline, since every try runs kubectl, whose duration varies)
wait_s() { local end=$((SECONDS + $1)); shift; while ((SECONDS < end)); do "$@" && return 0; sleep 0.2; done; return 1; }

# ---- ordered creation ----------------------------------------------------------------------
KC apply -f "$ROOT/examples/statefulset.yaml" >"$T/apply.out" 2>&1 || fail apply "$(cat "$T/apply.out")"
wait_s 120 all_ready 3 || fail sts_ready "$(KC get pods -o wide 2>&1)"
expect_eq sts_get_ready "$(KC get sts web --no-headers 2>&1 | awk '{print $2}')" "3/3"
names=$(jp pods '{range .items[*]}{.metadata.name}{" "}{end}')
expect_eq pod_names "$names" "web-0 web-1 web-2 "
# web-(i+1) was created after web-i became Ready (the Ready transition is what let
# the controller go on; timestamps have second precision, so >=)
ordered=yes
for i in 0 1; do
	ready_at=$(ts "$(jp "pod/web-$i" '{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')")
	next_at=$(ts "$(jp "pod/web-$((i + 1))" '{.metadata.creationTimestamp}')")
	num_cmp "$next_at" '>=' "$ready_at" && num_cmp "$ready_at" '>' 0 || ordered="web-$((i + 1)) at $next_at, web-$i ready at $ready_at"
done
expect_eq created_in_order "$ordered" yes
# the controller's events say the same: create web-0, web-1, web-2 in that order
order=$(KC get events --field-selector involvedObject.kind=StatefulSet -o json 2>/dev/null |
	jq -r '[.items | sort_by(.metadata.resourceVersion | tonumber) | .[] | select(.reason == "SuccessfulCreate") | .message | capture("^create Pod (?<p>web-[0-9]+)").p] | join(" ")')
expect_eq create_events_in_order "$order" "web-0 web-1 web-2"
expect_eq pod_owner "$(jp pod/web-1 '{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}')" "StatefulSet/web"
expect_eq pod_index_label "$(jp pod/web-2 '{.metadata.labels.apps\.kubernetes\.io/pod-index}')" "2"

# ---- identity: hostname and per-pod DNS ------------------------------------------------------
expect_eq hostname_in_pod "$(KC exec web-1 -- hostname 2>&1)" "web-1"
expect_match etc_hosts_fqdn "$(KC exec web-1 -- cat /etc/hosts 2>&1)" "web-1\.nginx\.default\.svc\.cluster\.local"
IP1=$(jp pod/web-1 '{.status.podIP}')
expect_match web1_ip "$IP1" '^10\.'
expect_eq endpoints_hostname "$(jp endpoints/nginx "{.subsets[0].addresses[?(@.ip==\"$IP1\")].hostname}")" "web-1"
dns_ok() { [ "$(IN 1 dig @10.96.0.10 +short +time=2 +tries=1 web-1.nginx.default.svc.cluster.local 2>/dev/null)" == "$IP1" ]; }
wait_s 20 dns_ok
expect_eq per_pod_dns_node "$(IN 1 dig @10.96.0.10 +short +time=2 +tries=2 web-1.nginx.default.svc.cluster.local 2>&1)" "$IP1"
expect_eq per_pod_dns_from_pod "$(KC exec web-0 -- dig +short +time=2 +tries=2 web-1.nginx.default.svc.cluster.local 2>&1)" "$IP1"
# the search path of the pod's namespace makes the short form work too
expect_eq per_pod_dns_short "$(KC exec web-0 -- dig +short +search +time=2 +tries=2 web-2.nginx 2>&1)" "$(jp pod/web-2 '{.status.podIP}')"

# ---- storage: the claim outlives the pod ----------------------------------------------------
expect_eq claims "$(jp pvc '{range .items[*]}{.metadata.name}{" "}{end}')" "www-web-0 www-web-1 www-web-2 "
expect_eq claim_not_owned "$(jp pvc/www-web-1 '{.metadata.ownerReferences}')" ""
expect_eq pod_uses_claim "$(jp pod/web-1 '{.spec.volumes[?(@.name=="www")].persistentVolumeClaim.claimName}')" "www-web-1"
KC exec web-1 -- sh -c 'echo kept-by-web-1 > /usr/share/nginx/html/data/state' >"$T/write.out" 2>&1 ||
	fail write_data "$(cat "$T/write.out")"
UID1=$(jp pod/web-1 '{.metadata.uid}')
KC delete pod web-1 --wait=false >/dev/null 2>&1 || fail delete_web1
back() { local u; u=$(jp pod/web-1 '{.metadata.uid}'); [ -n "$u" ] && [ "$u" != "$UID1" ] && pod_ready web-1; }
wait_s 90 back || fail web1_back "$(KC get pods -o wide 2>&1)"
expect_eq web1_same_claim "$(jp pod/web-1 '{.spec.volumes[?(@.name=="www")].persistentVolumeClaim.claimName}')" "www-web-1"
expect_eq web1_data_kept "$(KC exec web-1 -- cat /usr/share/nginx/html/data/state 2>&1)" "kept-by-web-1"
expect_eq web1_hostname_again "$(KC exec web-1 -- hostname 2>&1)" "web-1"

# ---- rolling update with a partition ------------------------------------------------------------
wait_s 60 all_ready 3 || fail ready_before_update "$(KC get pods 2>&1)"
REV1=$(jp sts/web '{.status.currentRevision}')
KC patch sts web --type=merge -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":2}},"template":{"metadata":{"annotations":{"rev":"2"}}}}}' >/dev/null 2>&1 ||
	fail patch_partition
REV2=""
updated() {
	REV2=$(jp sts/web '{.status.updateRevision}')
	[ -n "$REV2" ] && [ "$REV2" != "$REV1" ] && [ "$(jp pod/web-2 '{.metadata.labels.controller-revision-hash}')" == "$REV2" ] &&
		pod_ready web-2 && [ "$(jp sts/web '{.status.updatedReplicas}')" == 1 ]
}
wait_s 90 updated || fail partition_web2_updated "$(KC get pods -L controller-revision-hash 2>&1)"
expect_eq partition_web2_annotation "$(jp pod/web-2 '{.metadata.annotations.rev}')" "2"
expect_eq partition_web1_kept "$(jp pod/web-1 '{.metadata.labels.controller-revision-hash}')" "$REV1"
expect_eq partition_web0_kept "$(jp pod/web-0 '{.metadata.labels.controller-revision-hash}')" "$REV1"
expect_eq partition_current_revision "$(jp sts/web '{.status.currentRevision}')" "$REV1"
out=$(KC rollout status sts/web --timeout=20s 2>&1)
expect_match rollout_status_partitioned "$out" "partitioned roll out complete: 1 new pods have been updated"

# ---- scale down: highest ordinal first, claims stay ---------------------------------------------
KC scale sts web --replicas=1 >"$T/scale.out" 2>&1 || fail scale "$(cat "$T/scale.out")"
# watch the live pods until only web-0 is left: web-1 never goes while web-2 is there
order_ok=yes
scaled() {
	local live
	live=$(KC get pods -o json 2>/dev/null | jq -r '[.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name] | sort | join(" ")')
	[[ " $live " == *" web-2 "* && " $live " != *" web-1 "* ]] && order_ok="web-1 went before web-2: $live"
	[ "$live" == "web-0" ] && [ -z "$(jp pod/web-2 '{.metadata.name}')" ] && [ -z "$(jp pod/web-1 '{.metadata.name}')" ]
}
wait_s 90 scaled || fail scale_down "$(KC get pods 2>&1)"
expect_eq scale_down_order "$order_ok" yes
deletes=$(KC get events --field-selector involvedObject.kind=StatefulSet -o json 2>/dev/null |
	jq -r '[.items | sort_by(.metadata.resourceVersion | tonumber) | .[] | select(.reason == "SuccessfulDelete") | .message | capture("Pod (?<p>web-[0-9]+) in StatefulSet web successful$").p] | join(" ")')
expect_eq scale_down_events "$deletes" "web-2 web-1"
expect_eq claims_remain "$(jp pvc '{range .items[*]}{.metadata.name}{" "}{end}')" "www-web-0 www-web-1 www-web-2 "
wait_s 30 all_ready 1
expect_eq sts_scaled "$(KC get sts web --no-headers 2>&1 | awk '{print $2}')" "1/1"

# ---- bad manifests: 422 naming the field ----------------------------------------------------------
bad=$(sed -e 's/^  replicas: 3/  replicas: 3\n  podManagementPolicy: Sometimes/' -e 's/^  name: web$/  name: bad/' \
	"$ROOT/examples/statefulset.yaml")
out=$(KC apply -f - <<<"$bad" 2>&1)
expect_match bad_policy_kubectl "$out" 'StatefulSet "bad" is invalid: spec\.podManagementPolicy: Invalid value: "Sometimes"'
CA=$(cl_data 1)/tls/ca.crt
TOKEN=$(cat "$(cl_data 1)/token")
code=$(IN 1 curl -s -o "$T/bad.json" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
	-H 'Content-Type: application/json' -X POST "$CL_SERVER/apis/apps/v1/namespaces/default/statefulsets" \
	--data '{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"bad2"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"restartPolicy":"Never","containers":[{"name":"c","image":"x"}]}}}}')
expect_eq bad_restart_policy_422 "$code" 422
expect_eq bad_restart_policy_field "$(jq -r '.details.causes[0].field' "$T/bad.json" 2>/dev/null)" "spec.template.spec.restartPolicy"
out=$(KC patch sts web --type=merge -p '{"spec":{"serviceName":"other"}}' 2>&1)
expect_match immutable_service_name "$out" "spec: Forbidden: updates to statefulset spec for fields other than"

# ---- deletion: the pods go with the set, the claims stay ------------------------------------------
KC delete sts web --wait=false >/dev/null 2>&1 || fail delete_sts
gone() { [ -z "$(jp pods '{.items[*].metadata.name}')" ]; }
wait_s 60 gone || fail pods_gone_with_set "$(KC get pods 2>&1)"
expect_eq claims_outlive_set "$(jp pvc '{range .items[*]}{.metadata.name}{" "}{end}')" "www-web-0 www-web-1 www-web-2 "
done_testing
