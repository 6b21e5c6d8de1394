#!/bin/bash
# Lists from the watch cache (pkg/apiserver/listcache.c) and the resourceVersion
# semantics of a list, as kube-apiserver serves them: resourceVersion=0 (any),
# NotOlderThan and consistent reads from the cache, Exact from the store at that
# revision, limit/continue across both, ListOptions validation (422/400), 504 for a
# revision not reached, read-your-writes right after a create or a delete, kubectl's
# chunked get (500 a page) and the Python client. The cache's answer is compared
# item by item with the store's answer at the same revision. Last, the server's
# peak resident memory during a large LIST (after a warm-up list) must stay well
# under the size of the response: the body is streamed, not built in memory. After a
# restart, an Exact list from before an update is 410 Expired. Also: admission's
# namespace and LimitRange reads right after their writes, a node's pod watch.
. "$(dirname "$0")/../lib/lib.sh"
N=${LIST_CACHE_PODS:-1200}
KUBECTL=${KUBECTL:-/usr/bin/kubectl}
PY=/usr/bin/python3 # Debian's, with python3-kubernetes
curl_max_time 60
require_tools list_cache_tools jq "$PY" "$KUBECTL"
start_server || { fail list_cache_start "server did not start"; exit 1; }

PYH=$ROOT/tests/e2e/data/list_cache.py
# get FILE PATH: GET into FILE; sets HTTP_CODE
get() {
	HTTP_CODE=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$1" \
		-w '%{http_code}' "$API$2")
}
PODS=/api/v1/namespaces/default/pods

SECONDS=0
want=$("$PY" "$PYH" make 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" "$N" 2>&1)
expect_eq list_cache_make "$want" $((N - (N + 24) / 25))
echo "made $N pods in ${SECONDS}s"

# the cache's list (any revision) against the store's rebuild at the same revision
get "$T/any.json" "$PODS?resourceVersion=0"
rv=$(jq -r .metadata.resourceVersion "$T/any.json")
get "$T/exact.json" "$PODS?resourceVersion=$rv&resourceVersionMatch=Exact"
expect_eq list_cache_any_count "$(jq '.items | length' "$T/any.json")" "$want"
if [ "$HTTP_CODE" == 200 ] && cmp -s <(jq -S -c .items "$T/any.json") <(jq -S -c .items "$T/exact.json"); then
	pass list_cache_equals_store_at_revision
else
	fail list_cache_equals_store_at_revision "HTTP $HTTP_CODE; the lists at $rv differ"
fi
expect_eq list_cache_exact_revision "$(jq -r .metadata.resourceVersion "$T/exact.json")" "$rv"
# the relabelled pods carry their new labels in the cache
get "$T/sel.json" "$PODS?resourceVersion=0&labelSelector=tenth%3Dyes"
tenth=0; for ((i = 0; i < N; i += 10)); do ((i % 25)) && tenth=$((tenth + 1)); done
expect_eq list_cache_selector "$(jq '.items | length' "$T/sel.json")" "$tenth"

echo "t=${SECONDS}s"
# consistent reads see every write acknowledged before them
rw_create=0 rw_delete=0
for i in $(seq 1 8); do
	api_json POST $PODS "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"rw-$i\"},\"spec\":{\"nodeName\":\"ghost\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"
	api GET "$PODS?fieldSelector=metadata.name%3Drw-$i"
	[ "$(jqb '.items | length')" == 1 ] && rw_create=$((rw_create + 1))
	api_json DELETE "$PODS/rw-$i" '{"gracePeriodSeconds":0}'
	api GET "$PODS?fieldSelector=metadata.name%3Drw-$i"
	[ "$(jqb '.items | length')" == 0 ] && rw_delete=$((rw_delete + 1))
done
expect_eq list_cache_read_your_create "$rw_create" 8
expect_eq list_cache_read_your_delete "$rw_delete" 8

# admission reads namespaces (and LimitRanges, ResourceQuotas) from the cache: a
# namespace just made takes pods at once, one just deleted refuses them at once
ns_ok=0 ns_refused=0
for i in 1 2 3; do
	# a finalizer of the test's keeps the deleted namespace, Terminating
	api_json POST /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"lc-ns-$i\",\"finalizers\":[\"example.com/hold\"]}}"
	api_json POST /api/v1/namespaces/lc-ns-$i/configmaps "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"a\"}}"
	[ "$HTTP_CODE" == 201 ] && ns_ok=$((ns_ok + 1))
	api DELETE /api/v1/namespaces/lc-ns-$i
	api_json POST /api/v1/namespaces/lc-ns-$i/configmaps "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"b\"}}"
	[ "$HTTP_CODE" == 403 ] && [ "$(jqb '.details.causes[0].reason')" == NamespaceTerminating ] &&
		ns_refused=$((ns_refused + 1))
done
expect_eq list_cache_namespace_new_admits "$ns_ok" 3
expect_eq list_cache_namespace_deleted_refuses "$ns_refused" 3
api_json POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"lc-gone"}}'
api DELETE /api/v1/namespaces/lc-gone
api_json POST /api/v1/namespaces/lc-gone/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}'
expect_status list_cache_namespace_gone 404 NotFound
# a LimitRange made just before a pod gives it its defaults
api_json POST /api/v1/namespaces/default/limitranges '{"apiVersion":"v1","kind":"LimitRange","metadata":{"name":"lr"},"spec":{"limits":[{"type":"Container","defaultRequest":{"cpu":"123m"}}]}}'
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"lr-pod"},"spec":{"nodeName":"ghost","containers":[{"name":"c","image":"busybox"}]}}'
expect_eq list_cache_limitrange_default "$(jqb '.spec.containers[0].resources.requests.cpu')" 123m
api_json DELETE "$PODS/lr-pod" '{"gracePeriodSeconds":0}'
api DELETE /api/v1/namespaces/default/limitranges/lr
echo "t=${SECONDS}s"
# an older revision: Exact rebuilds it, NotOlderThan gives the newer state
get "$T/before.json" "$PODS"
rv0=$(jq -r .metadata.resourceVersion "$T/before.json")
for i in 1 2 3; do api_json DELETE "$PODS/lc-$i" '{"gracePeriodSeconds":0}'; done
get "$T/old.json" "$PODS?resourceVersion=$rv0&resourceVersionMatch=Exact"
expect_eq list_cache_exact_old "$(jq '.items | length' "$T/old.json")/$(jq -r .metadata.resourceVersion "$T/old.json")" "$want/$rv0"
get "$T/newer.json" "$PODS?resourceVersion=$rv0&resourceVersionMatch=NotOlderThan"
want=$((want - 3))
newer_rv=$(jq -r .metadata.resourceVersion "$T/newer.json")
if [ "$(jq '.items | length' "$T/newer.json")" == "$want" ] && num_cmp "$newer_rv" '>' "$rv0"; then
	pass list_cache_not_older_than
else
	fail list_cache_not_older_than "$(jq '.items | length' "$T/newer.json") items at $newer_rv, want $want after $rv0"
fi

echo "t=${SECONDS}s"
# pages from the cache (any revision), continued from its snapshot, at one revision
names=() cont="" pages=0
while ((pages < 20)); do
	if [ -z "$cont" ]; then get "$T/page.json" "$PODS?resourceVersion=0&limit=500"
	else get "$T/page.json" "$PODS?limit=500&continue=$cont"; fi
	[ "$HTTP_CODE" == 200 ] || break
	mapfile -t -O "${#names[@]}" names < <(jq -r '.items[].metadata.name' "$T/page.json")
	pages=$((pages + 1))
	cont=$(jq -r '.metadata.continue // empty' "$T/page.json")
	[ -n "$cont" ] || break
done
distinct=$(printf '%s\n' "${names[@]}" | sort -u | wc -l)
expect_eq list_cache_pages "${#names[@]}/$distinct/$HTTP_CODE" "$want/$want/200"

# pages of the latest state (kubectl's way: limit, no resourceVersion) from the
# snapshot the first page keeps: a delete and a create between the pages do not
# show, every page is at the first page's revision; a continue whose snapshot was
# let go (8 paged lists since) is rebuilt by the store at that revision alike
# walk_pages FIRST_FILE: follows its continue; sets P_NAMES (every page's names),
# P_RVS (the distinct page revisions) and HTTP_CODE
walk_pages() {
	local cont n=0
	P_NAMES=$(jq -r '.items[].metadata.name' "$1")
	P_RVS=$(jq -r .metadata.resourceVersion "$1")
	cont=$(jq -r '.metadata.continue // empty' "$1")
	while [ -n "$cont" ] && ((n < 50)); do
		get "$T/pn.json" "$PODS?limit=100&continue=$cont"
		[ "$HTTP_CODE" == 200 ] || return
		P_NAMES+=$'\n'$(jq -r '.items[].metadata.name' "$T/pn.json")
		P_RVS+=$'\n'$(jq -r .metadata.resourceVersion "$T/pn.json")
		cont=$(jq -r '.metadata.continue // empty' "$T/pn.json")
		n=$((n + 1))
	done
	P_RVS=$(sort -u <<<"$P_RVS" | tr '\n' ' ')
}
get "$T/all.json" "$PODS"
last=$(jq -r '.items[-1].metadata.name' "$T/all.json")
get "$T/p1.json" "$PODS?limit=100"
rv1=$(jq -r .metadata.resourceVersion "$T/p1.json")
expect_eq list_cache_latest_page_remaining "$(jq '.items | length' "$T/p1.json")/$(jq .metadata.remainingItemCount "$T/p1.json")" \
	"100/$((want - 100))"
get "$T/q1.json" "$PODS?limit=100" # a second list, to be continued after 8 more
api_json DELETE "$PODS/$last" '{"gracePeriodSeconds":0}'
api_json POST $PODS '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"zz-late"},"spec":{"nodeName":"ghost","containers":[{"name":"c","image":"busybox"}]}}'
walk_pages "$T/p1.json"
expect_eq list_cache_snapshot_pages "$(grep -c . <<<"$P_NAMES")/$(sort -u <<<"$P_NAMES" | grep -c .)/$(grep -cx "$last" <<<"$P_NAMES")/$(grep -cx zz-late <<<"$P_NAMES")/$P_RVS/$HTTP_CODE" \
	"$want/$want/1/0/$rv1 /200"
for i in $(seq 8); do get "$T/evict.json" "$PODS?limit=3"; done
walk_pages "$T/q1.json"
expect_eq list_cache_snapshot_gone_store_pages "$(grep -c . <<<"$P_NAMES")/$(grep -cx "$last" <<<"$P_NAMES")/$(grep -cx zz-late <<<"$P_NAMES")/$HTTP_CODE" \
	"$want/1/0/200"
api_json DELETE "$PODS/zz-late" '{"gracePeriodSeconds":0}'
want=$((want - 1))

echo "t=${SECONDS}s"
# validation, as upstream's ValidateListOptions and its storage
api GET "$PODS?resourceVersionMatch=NotOlderThan"
expect_status list_cache_match_without_rv 422 Invalid
expect_eq list_cache_match_without_rv_field "$(jqb '.details.causes[0].field')/$(jqb .details.group)/$(jqb .details.kind)" \
	"resourceVersionMatch/meta.k8s.io/ListOptions"
api GET "$PODS?resourceVersion=0&resourceVersionMatch=Exact"
expect_status list_cache_exact_at_0 422 Invalid
api GET "$PODS?resourceVersion=5&resourceVersionMatch=Newest"
expect_status list_cache_match_unsupported 422 Invalid
expect_eq list_cache_match_unsupported_reason "$(jqb '.details.causes[0].reason')" FieldValueNotSupported
api GET "$PODS?resourceVersion=5&continue=$(jq -r '.metadata.continue' "$T/page.json" 2>/dev/null)x"
expect_status list_cache_continue_with_rv 400 BadRequest
api GET "$PODS?resourceVersion=abc"
expect_status list_cache_rv_not_a_number 400 BadRequest
api GET "$PODS?resourceVersion=$((newer_rv + 100000))&resourceVersionMatch=NotOlderThan"
expect_status list_cache_rv_too_large 504 Timeout
api GET "$PODS?resourceVersion=$((newer_rv + 100000))&resourceVersionMatch=Exact"
expect_status list_cache_exact_too_large 504 Timeout

echo "t=${SECONDS}s"
# kubectl asks in chunks of 500 (a Table, from the cache's snapshot) and as objects
k get pods -o name
expect_eq list_cache_kubectl_names "$(grep -c '^pod/' <<<"$KOUT")" "$want"
k get pods --chunk-size=300
expect_eq list_cache_kubectl_table "$(grep -c '^lc-' <<<"$KOUT")" "$want"

echo "t=${SECONDS}s"
# the official Python client
if "$PY" -c 'import kubernetes' 2>/dev/null; then
	out=$(HOME=$T timeout 120 "$PY" "$PYH" python "$KUBECONFIG" "$N" 2>"$T/py.err")
	while IFS= read -r line; do
		case $line in
		"PASS: "*) pass "${line#PASS: }" ;;
		"FAIL: "*) rest=${line#FAIL: }; fail "${rest%%: *}" "${rest#*: }" ;;
		esac
	done <<<"$out"
	grep -q '^PASS: \|^FAIL: ' <<<"$out" || fail list_cache_python "no result: $(tail -3 "$T/py.err")"
else
	fail list_cache_python "python3-kubernetes missing (scripts/deps.sh)"
fi

# a node's watch (fieldSelector spec.nodeName, tested on the text before parsing)
# sees its pods' events and no other node's
get "$T/w0.json" "$PODS?limit=1"
wrv=$(jq -r .metadata.resourceVersion "$T/w0.json")
curl -s -N --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$T/nodewatch.out" \
	"$API$PODS?watch=1&resourceVersion=$wrv&timeoutSeconds=6&fieldSelector=spec.nodeName%3Dnode-x" &
wpid=$!
_PIDS+=("$wpid")
for n in node-x node-y; do
	api_json POST $PODS "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"w-$n\"},\"spec\":{\"nodeName\":\"$n\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"
	api_json PATCH "$PODS/w-$n" '{"metadata":{"labels":{"seen":"yes"}}}' -H 'Content-Type: application/merge-patch+json'
	api_json DELETE "$PODS/w-$n" '{"gracePeriodSeconds":0}'
done
wait "$wpid"
expect_eq list_cache_node_watch "$(jq -r '.type + " " + .object.metadata.name' "$T/nodewatch.out" | tr '\n' ' ')" \
	"ADDED w-node-x MODIFIED w-node-x DELETED w-node-x "
echo "t=${SECONDS}s"
# memory: a warm-up list fills every cache, then the peak resident memory is reset
# (clear_refs 5) and read after one more list of every pod
get "$T/warm.json" "$PODS"
echo 5 >"/proc/$SERVER_PID/clear_refs"
base=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")
get "$T/big.json" "$PODS"
peak=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
body_kb=$(($(stat -c %s "$T/big.json") / 1024))
growth=$((peak - base))
echo "LIST of $want pods: ${body_kb} kB body; server peak RSS growth ${growth} kB"
if [ "$HTTP_CODE" == 200 ] && num_cmp "$((growth * 4))" '<' "$body_kb"; then
	pass "list_cache_memory (${growth} kB for ${body_kb} kB)"
else
	fail list_cache_memory "peak RSS grew ${growth} kB during a ${body_kb} kB list (HTTP $HTTP_CODE)"
fi

# after a restart the events are read back from the store's log, which keeps no
# previous state of an update: an Exact list from before the update is rebuilt from
# the older events (not compacted yet), as etcd reads at a revision it still holds;
# the cache is filled again from the store
get "$T/pre.json" "$PODS?limit=1"
rv_pre=$(jq -r .metadata.resourceVersion "$T/pre.json")
api_json PATCH "$PODS/lc-5" '{"metadata":{"labels":{"after":"restart"}}}' -H 'Content-Type: application/merge-patch+json'
stop_server
start_server || { fail list_cache_restart "server did not start again"; done_testing; exit 1; }
get "$T/old.json" "$PODS?resourceVersion=$rv_pre&resourceVersionMatch=Exact"
expect_eq list_cache_exact_after_restart "$HTTP_CODE $(jq -r '.metadata.resourceVersion' "$T/old.json") $(jq -r '[.items[] | select(.metadata.name == "lc-5" and .metadata.labels.after == null)] | length' "$T/old.json")" \
	"200 $rv_pre 1"
# (410 at a compacted revision: tests/unit/store test_list_at_compacted, tests/e2e/snapshot.sh)
get "$T/again.json" "$PODS?resourceVersion=0"
expect_eq list_cache_after_restart "$(jq '.items | length' "$T/again.json")/$(jq -r '[.items[] | select(.metadata.labels.after == "restart")] | length' "$T/again.json")" "$want/1"
done_testing
