#!/bin/bash
# End-to-end: watch semantics of `minik8s server` over curl (chunked newline-delimited JSON
# events): order, live delivery, resume from a resourceVersion, label and field selectors,
# bookmarks, timeoutSeconds, synthetic ADDED for a watch without resourceVersion, Table
# events, fan-out to many watchers; and durability: kill -9, restart on the same data dir,
# objects, resourceVersions and the event history intact.
. "$(dirname "$0")/../lib/lib.sh"
curl_max_time 60
start_server --disable-controllers || { fail server_start "minik8s server did not start"; exit 1; }

CORE=/api/v1
MERGE=(-H 'Content-Type: application/merge-patch+json')
# watch_bg FILE PATH [curl args...]: a watch in the background (bounded); sets WPID
watch_bg() {
	local f=$1 p=$2; shift 2
	timeout 15 curl -sN --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -D "$f.hdr" "$@" "$API$p" >"$f" 2>/dev/null &
	WPID=$!
}
# watch_fg FILE PATH [curl args...]: a watch that must end by itself (timeoutSeconds); sets WRC
watch_fg() {
	local f=$1 p=$2; shift 2
	WRC=0
	timeout 15 curl -sN --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" "$@" "$API$p" >"$f" 2>/dev/null || WRC=$?
}
# evs FILE: the events as "TYPE name,TYPE name,..." (BOOKMARKs left out)
evs() { jq -rs '[.[] | select(.type != "BOOKMARK") | "\(.type) \(.object.metadata.name)"] | join(",")' "$1" 2>/dev/null || echo "unparsable: $(head -c 300 "$1")"; }
mkpod() {
	local l=${3:-}
	[ -n "$l" ] || l='{}'
	api_json POST "$CORE/namespaces/$1/pods" "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$2\",\"labels\":$l},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"
}
mkns() { api_json POST $CORE/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$1\"}}"; }
listrv() { api GET "$1"; jqb .metadata.resourceVersion; }

mkns w; mkns w2; mkns wsel; mkns wone; mkns wsyn; mkns dur

# ---- ADDED / MODIFIED / DELETED in order, delivered live ----------------------------------
rv0=$(listrv $CORE/namespaces/w/pods)
watch_bg "$T/w1" "$CORE/namespaces/w/pods?watch=true&resourceVersion=$rv0&timeoutSeconds=5"
w1=$WPID
mkpod w a '{"app":"a"}'
expect_code order_create 201
rv_add=$(jqb .metadata.resourceVersion)
if wait_until 30 grep -q '"ADDED"' "$T/w1"; then pass watch_live_delivery; else fail watch_live_delivery "ADDED not streamed within 3 s: $(head -c 300 "$T/w1")"; fi
mkpod w2 other
api_json PATCH $CORE/namespaces/w/pods/a '{"metadata":{"labels":{"step":"2"}}}' "${MERGE[@]}"
rv_mod=$(jqb .metadata.resourceVersion)
api DELETE $CORE/namespaces/w/pods/a
expect_code order_delete 200
wait "$w1"
expect_eq watch_order "$(evs "$T/w1")" "ADDED a,MODIFIED a,DELETED a"
expect_eq watch_event_rvs "$(jq -rs '[.[0:2][] | .object.metadata.resourceVersion] | join(" ")' "$T/w1" 2>/dev/null)" "$rv_add $rv_mod"
rv_del=$(jq -rs '.[2].object.metadata.resourceVersion' "$T/w1" 2>/dev/null)
if num_cmp "$rv_del" ">" "$rv_mod"; then pass watch_deleted_rv; else fail watch_deleted_rv "DELETED rv '$rv_del', MODIFIED rv $rv_mod"; fi
expect_eq watch_event_objects "$(jq -rs '[.[] | .object.kind + "/" + .object.apiVersion + "/" + .object.metadata.namespace] | unique | join(",")' "$T/w1" 2>/dev/null)" "Pod/v1/w"
expect_eq watch_modified_content "$(jq -rs '.[1].object.metadata.labels.step' "$T/w1" 2>/dev/null)" 2
expect_eq watch_one_event_per_line "$(grep -c . "$T/w1")" 3
expect_match watch_chunked "$(tr -d '\r' <"$T/w1.hdr")" $'(^|\n)[Tt]ransfer-[Ee]ncoding: chunked'
expect_match watch_content_type "$(tr -d '\r' <"$T/w1.hdr")" $'(^|\n)[Cc]ontent-[Tt]ype: application/json'

# ---- resume from an older resourceVersion -------------------------------------------------------
watch_fg "$T/r1" "$CORE/namespaces/w/pods?watch=true&resourceVersion=$rv0&timeoutSeconds=1"
expect_eq resume_from_start "$(evs "$T/r1")" "ADDED a,MODIFIED a,DELETED a"
watch_fg "$T/r2" "$CORE/namespaces/w/pods?watch=true&resourceVersion=$rv_add&timeoutSeconds=1"
expect_eq resume_after_added "$(evs "$T/r2")" "MODIFIED a,DELETED a"
watch_fg "$T/r3" "$CORE/namespaces/w/pods?watch=true&resourceVersion=$rv_del&timeoutSeconds=1"
expect_eq resume_at_head "$(evs "$T/r3")" ""
watch_fg "$T/r4" "$CORE/pods?watch=true&resourceVersion=$rv0&timeoutSeconds=1"
expect_eq resume_all_namespaces "$(jq -rs '[.[] | select(.type != "BOOKMARK") | "\(.type) \(.object.metadata.namespace)/\(.object.metadata.name)"] | join(",")' "$T/r4" 2>/dev/null)" \
	"ADDED w/a,ADDED w2/other,MODIFIED w/a,DELETED w/a"

# ---- label-selector-filtered watch ------------------------------------------------------------------
rv1=$(listrv $CORE/namespaces/wsel/pods)
watch_bg "$T/l1" "$CORE/namespaces/wsel/pods?watch=true&resourceVersion=$rv1&timeoutSeconds=3&labelSelector=app%3Dweb"
l1=$WPID
mkpod wsel web '{"app":"web"}'
mkpod wsel db '{"app":"db"}'
api_json PATCH $CORE/namespaces/wsel/pods/db '{"metadata":{"labels":{"x":"1"}}}' "${MERGE[@]}"
api_json PATCH $CORE/namespaces/wsel/pods/web '{"metadata":{"labels":{"x":"1"}}}' "${MERGE[@]}"
wait "$l1"
expect_eq label_watch_filtered "$(evs "$T/l1")" "ADDED web,MODIFIED web"
watch_bg "$T/l2" "$CORE/namespaces/wsel/pods?watch=true&resourceVersion=$(listrv $CORE/namespaces/wsel/pods)&timeoutSeconds=3&labelSelector=app%3Dweb"
l2=$WPID
api_json PATCH $CORE/namespaces/wsel/pods/web '{"metadata":{"labels":{"app":"gone"}}}' "${MERGE[@]}"
api_json PATCH $CORE/namespaces/wsel/pods/db '{"metadata":{"labels":{"app":"web"}}}' "${MERGE[@]}"
wait "$l2"
expect_eq label_watch_transitions "$(evs "$T/l2")" "DELETED web,ADDED db"

# ---- a single object through fieldSelector=metadata.name --------------------------------------------
rv2=$(listrv $CORE/namespaces/wone/pods)
watch_bg "$T/f1" "$CORE/namespaces/wone/pods?watch=true&resourceVersion=$rv2&timeoutSeconds=3&fieldSelector=metadata.name%3Done"
f1=$WPID
mkpod wone one
mkpod wone two
api_json PATCH $CORE/namespaces/wone/pods/two '{"metadata":{"labels":{"x":"1"}}}' "${MERGE[@]}"
api_json PATCH $CORE/namespaces/wone/pods/one '{"metadata":{"labels":{"x":"1"}}}' "${MERGE[@]}"
api DELETE $CORE/namespaces/wone/pods/two
api DELETE $CORE/namespaces/wone/pods/one
wait "$f1"
expect_eq field_watch_single_object "$(evs "$T/f1")" "ADDED one,MODIFIED one,DELETED one"

# ---- no resourceVersion / resourceVersion=0: current objects first, as ADDED --------------------------
mkpod wsyn x
mkpod wsyn y
watch_bg "$T/s1" "$CORE/namespaces/wsyn/pods?watch=true&timeoutSeconds=3"
s1=$WPID
sleep 1
mkpod wsyn z
wait "$s1"
expect_eq watch_without_rv "$(jq -rs '[.[] | select(.type != "BOOKMARK") | "\(.type) \(.object.metadata.name)"] | .[0:2] |= sort | join(",")' "$T/s1" 2>/dev/null)" "ADDED x,ADDED y,ADDED z"
watch_fg "$T/s2" "$CORE/namespaces/wsyn/pods?watch=true&resourceVersion=0&timeoutSeconds=1"
expect_eq watch_rv_zero "$(jq -rs '[.[] | select(.type != "BOOKMARK") | "\(.type) \(.object.metadata.name)"] | sort | join(",")' "$T/s2" 2>/dev/null)" "ADDED x,ADDED y,ADDED z"

# ---- bookmarks ------------------------------------------------------------------------------------------
rv3=$(listrv $CORE/namespaces/wsyn/pods)
watch_bg "$T/b1" "$CORE/namespaces/wsyn/pods?watch=true&resourceVersion=$rv3&allowWatchBookmarks=true&timeoutSeconds=3"
b1=$WPID
mkpod wsyn bm
wait "$b1"
expect_eq bookmark_stream_events "$(evs "$T/b1")" "ADDED bm"
bad=$(jq -c 'select(.type == "BOOKMARK") | select((.object.kind != "Pod") or ((.object.metadata.resourceVersion // "") | test("^[0-9]+$") | not))' "$T/b1" 2>&1)
expect_eq bookmarks_wellformed "$bad" ""
echo "bookmark events seen: $(grep -c '"BOOKMARK"' "$T/b1")"

# ---- timeoutSeconds ends the stream; without it the stream stays open ------------------------------------
start=$(date +%s)
watch_fg "$T/t1" "$CORE/namespaces/wsyn/pods?watch=true&resourceVersion=$rv3&timeoutSeconds=2"
expect_eq timeout_seconds_ends_stream "$WRC" 0
el=$(($(date +%s) - start))
if ((el <= 10)); then pass timeout_seconds_bounded; else fail timeout_seconds_bounded "stream lasted ${el}s"; fi
WRC=0
timeout 3 curl -sN --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" "$API$CORE/namespaces/wsyn/pods?watch=true&resourceVersion=$rv3" >"$T/t2" 2>/dev/null || WRC=$?
expect_eq watch_stays_open "$WRC" 124

# ---- Table events (kubectl get -w) ------------------------------------------------------------------------
rv4=$(listrv $CORE/namespaces/wsyn/pods)
watch_bg "$T/tb" "$CORE/namespaces/wsyn/pods?watch=true&resourceVersion=$rv4&timeoutSeconds=2" \
	-H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'
tb=$WPID
mkpod wsyn tab1
mkpod wsyn tab2
wait "$tb"
expect_eq table_watch_events "$(jq -rs '[.[] | select(.type != "BOOKMARK") | "\(.type) \(.object.kind) \(.object.rows[0].cells[0])"] | join(",")' "$T/tb" 2>/dev/null)" \
	"ADDED Table tab1,ADDED Table tab2"
expect_eq table_watch_columns_first "$(jq -rs '[.[] | select(.type != "BOOKMARK")][0].object.columnDefinitions | length > 0' "$T/tb" 2>/dev/null)" true
expect_eq table_watch_row_object "$(jq -rs '[.[] | select(.type != "BOOKMARK")][0].object.rows[0].object.metadata.namespace' "$T/tb" 2>/dev/null)" wsyn

# ---- other resources, and many watchers at once -------------------------------------------------------------
rv5=$(listrv /apis/apps/v1/namespaces/w/deployments)
watch_bg "$T/d1" "/apis/apps/v1/namespaces/w/deployments?watch=true&resourceVersion=$rv5&timeoutSeconds=2"
d1=$WPID
api_json POST /apis/apps/v1/namespaces/w/deployments '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"dep"},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"d"}},"template":{"metadata":{"labels":{"app":"d"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
api_json PATCH /apis/apps/v1/namespaces/w/deployments/dep/scale '{"spec":{"replicas":3}}' "${MERGE[@]}"
wait "$d1"
expect_eq deployment_watch "$(jq -rs '[.[] | select(.type != "BOOKMARK") | "\(.type) \(.object.kind) \(.object.spec.replicas)"] | join(",")' "$T/d1" 2>/dev/null)" \
	"ADDED Deployment 1,MODIFIED Deployment 3"
rv6=$(listrv $CORE/namespaces)
watch_fg "$T/n1" "$CORE/namespaces?watch=true&resourceVersion=$rv6&timeoutSeconds=1" &
n1=$!
mkns wlate
wait "$n1"
expect_eq namespace_watch "$(evs "$T/n1")" "ADDED wlate"

rv7=$(listrv $CORE/namespaces/w/pods)
pids=()
for i in $(seq 20); do
	watch_bg "$T/m$i" "$CORE/namespaces/w/pods?watch=true&resourceVersion=$rv7&timeoutSeconds=3"
	pids+=("$WPID")
done
mkpod w fan
for p in "${pids[@]}"; do wait "$p"; done
got=0
for i in $(seq 20); do [ "$(evs "$T/m$i")" == "ADDED fan" ] && got=$((got + 1)); done
expect_eq fan_out_20_watchers "$got" 20
check alive_after_watches server_healthy

# ---- durability: kill -9, restart on the same data dir ---------------------------------------------------------
rv_before=$(listrv $CORE/namespaces/dur/pods)
declare -A UID_OF RV_OF
for n in d1 d2 d3 d4 d5; do
	mkpod dur $n "{\"n\":\"$n\"}"
	UID_OF[$n]=$(jqb .metadata.uid) RV_OF[$n]=$(jqb .metadata.resourceVersion)
done
api_json PATCH $CORE/namespaces/dur/pods/d2 '{"metadata":{"labels":{"patched":"yes"}}}' "${MERGE[@]}"
RV_OF[d2]=$(jqb .metadata.resourceVersion)
api DELETE $CORE/namespaces/dur/pods/d5
rv_last=$(listrv $CORE/namespaces/dur/pods)
token_before=$TOKEN ca_before=$(sha256sum <"$CACERT")
stop_server KILL
start_server --disable-controllers || { fail restart_after_kill "server did not start again on $DATA"; exit 1; }
pass restart_after_kill
expect_eq restart_same_token "$TOKEN" "$token_before"
expect_eq restart_same_ca "$(sha256sum <"$CACERT")" "$ca_before"
for n in d1 d2 d3 d4; do
	api GET $CORE/namespaces/dur/pods/$n
	expect_eq "restart_object_$n" "$HTTP_CODE $(jqb '.metadata.uid + " " + .metadata.resourceVersion')" "200 ${UID_OF[$n]} ${RV_OF[$n]}"
done
api GET $CORE/namespaces/dur/pods/d2
expect_eq restart_patch_kept "$(jqb .metadata.labels.patched)" yes
api GET $CORE/namespaces/dur/pods/d5
expect_code restart_delete_kept 404
rv_after=$(listrv $CORE/namespaces/dur/pods)
if num_cmp "$rv_after" ">=" "$rv_last"; then pass restart_list_rv; else fail restart_list_rv "list rv $rv_after before kill $rv_last"; fi
mkpod dur d6
rv_new=$(jqb .metadata.resourceVersion)
if num_cmp "$rv_new" ">" "$rv_last"; then pass restart_rv_monotonic; else fail restart_rv_monotonic "new rv $rv_new, before kill $rv_last"; fi
watch_fg "$T/dw" "$CORE/namespaces/dur/pods?watch=true&resourceVersion=$rv_before&timeoutSeconds=1"
expect_eq restart_watch_replays "$(evs "$T/dw")" \
	"ADDED d1,ADDED d2,ADDED d3,ADDED d4,ADDED d5,MODIFIED d2,DELETED d5,ADDED d6"
watch_fg "$T/dw2" "$CORE/namespaces/dur/pods?watch=true&resourceVersion=$rv_last&timeoutSeconds=1"
expect_eq restart_watch_from_last "$(evs "$T/dw2")" "ADDED d6"

# a clean stop (SIGTERM) exits 0 and the data survives it too
kill -TERM "$SERVER_PID"
rc=0; wait "$SERVER_PID" || rc=$?
expect_eq sigterm_exit_code "$rc" 0
start_server --disable-controllers || { fail restart_after_term "server did not start again"; exit 1; }
api GET $CORE/namespaces/dur/pods/d6
expect_code restart_after_term_object 200
check alive_at_end server_healthy
done_testing
