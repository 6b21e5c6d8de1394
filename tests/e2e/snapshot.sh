#!/bin/bash
# minik8s etcd-snapshot, for real: on SQLite, objects created through kubectl, a
# snapshot saved while the server runs, more changes, restore refused while the
# server holds the data dir, server stopped, restore, server started: exactly the
# snapshot's objects, new writes take revisions past every one handed out before,
# a watch from an old revision gets 410. On etcd (one real member of the test's
# own): the v3 snapshot saved through the server's datastore endpoint, more changes,
# the member restored with etcdctl snapshot restore, the server started on it:
# exactly the snapshot's objects. Errors for bad input.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/etcd.sh"
require_tools snapshot kubectl curl jq etcd etcdctl

# srv DATA [FLAGS...]: a server on data dir DATA; sets SPID, SPORT, KC. With
# SRV=up: through `minik8s up --foreground`, which passes the flags on.
srv() {
	local data=$1 i; shift
	SPORT=$(free_port)
	KC=$data.kubeconfig
	rm -f "$KC"
	"$MINIK8S" ${SRV:-server} ${SRV:+--foreground} --data-dir "$data" --bind-address 127.0.0.1 --https-listen-port "$SPORT" \
		--write-kubeconfig "$KC" --disable-agent "$@" >>"$data.log" 2>&1 &
	SPID=$!
	_PIDS+=("$SPID")
	for i in $(seq 600); do
		if [ -f "$KC" ] && curl -sf --cacert "$data/tls/ca.crt" "https://127.0.0.1:$SPORT/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server on $data did not start:"; tail -5 "$data.log"
	return 1
}
srv_stop() { kill -TERM "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }
kc() { kubectl --kubeconfig "$KC" --request-timeout=30s "$@"; }
# the names of the test's configmaps, sorted, space-separated
cms() { kc get configmaps -l snap=t -o jsonpath='{.items[*].metadata.name}' 2>&1 | tr ' ' '\n' | sort | xargs; }
snap() { "$MINIK8S" etcd-snapshot "$@"; }
# raw DATA QUERY: GET the default namespace's configmaps with QUERY from the server
# on DATA; sets CODE and BODY
raw() {
	BODY=$(curl -s -m 30 --cacert "$1/tls/ca.crt" -H "Authorization: Bearer $(cat "$1/token")" \
		-o - -w '\n%{http_code}' "https://127.0.0.1:$SPORT/api/v1/namespaces/default/configmaps?$2")
	CODE=${BODY##*$'\n'} BODY=${BODY%$'\n'*}
}
# the items of BODY as NAME=DATA.k, sorted
items() { jq -r '[.items[] | "\(.metadata.name)=\(.data.k)"] | sort | join(" ")' <<<"$BODY" 2>&1; }

# ---- SQLite ------------------------------------------------------------------
D=$T/sq
srv "$D" || { fail sqlite-server-start "see log"; done_testing; exit 1; }
for n in a b; do kc create configmap "cm-$n" --from-literal=k=v1 >/dev/null 2>&1; done
kc label configmap cm-a cm-b snap=t >/dev/null 2>&1
expect_eq sqlite-before "$(cms)" "cm-a cm-b"
rv_b=$(kc get configmap cm-b -o jsonpath='{.metadata.resourceVersion}')

out=$(snap save --data-dir "$D" --name before 2>&1)
rc=$?
expect_eq sqlite-save-rc "$rc" 0
expect_match sqlite-save-output "$out" "^Snapshot before-[^ ]+-[0-9]+ saved: $D/db/snapshots/before-[^ ]+ \([0-9]+ bytes, [0-9]+ objects, revision [0-9]+\)$"
file=$(ls "$D"/db/snapshots/before-* 2>/dev/null | head -1)
name=$(basename "$file")
snap_rev=$(sed -nE 's/.*revision ([0-9]+)\)$/\1/p' <<<"$out")
expect_eq sqlite-snapshot-mode "$(stat -c %a "$file" 2>&1)" 600
if num_cmp "$snap_rev" '>=' "$rv_b"; then pass "sqlite-snapshot-revision ($snap_rev >= $rv_b)"
else fail sqlite-snapshot-revision "snapshot revision '$snap_rev' < cm-b's $rv_b"; fi
expect_eq sqlite-snapshot-integrity "$(sqlite3 "$file" 'PRAGMA integrity_check' 2>&1)" ok
expect_eq sqlite-snapshot-objects "$(sqlite3 "$file" "SELECT group_concat(name, ' ') FROM (SELECT name FROM objects WHERE resource='configmaps' AND name LIKE 'cm-%' ORDER BY name)" 2>&1)" "cm-a cm-b"
# ls: the metadata line
ls_json=$(snap ls --data-dir "$D" -o json 2>&1)
expect_eq sqlite-ls-json "$(jq -r "select(.name==\"$name\") | [.backend, .revision, .location] | join(\" \")" <<<"$ls_json" 2>&1)" "sqlite $snap_rev $file"
expect_match sqlite-ls-table "$(snap ls --data-dir "$D" 2>&1)" "$name +$file +[0-9]+ +[0-9T:Z-]+ +$snap_rev +sqlite"

# more changes after the snapshot
kc create configmap cm-c --from-literal=k=v1 >/dev/null 2>&1
kc label configmap cm-c snap=t >/dev/null 2>&1
kc patch configmap cm-b -p '{"data":{"k":"v2"}}' >/dev/null 2>&1
kc delete configmap cm-a >/dev/null 2>&1
expect_eq sqlite-changed "$(cms)" "cm-b cm-c"
last_rv=$(kc get --raw /api/v1/configmaps | jq -r .metadata.resourceVersion)
# a list at an older revision (resourceVersionMatch=Exact): as it was then
raw "$D" "labelSelector=snap%3Dt&resourceVersion=$snap_rev&resourceVersionMatch=Exact"
expect_eq list-exact-code "$CODE" 200
expect_eq list-exact-items "$(items)" "cm-a=v1 cm-b=v1"
expect_eq list-exact-rv "$(jq -r .metadata.resourceVersion <<<"$BODY" 2>&1)" "$snap_rev"
raw "$D" "resourceVersion=$((last_rv + 1000))&resourceVersionMatch=Exact"
expect_eq list-exact-future-504 "$CODE" 504
raw "$D" "resourceVersionMatch=Exact"
expect_eq list-exact-no-rv-422 "$CODE" 422
raw "$D" "resourceVersion=0&resourceVersionMatch=Exact"
expect_eq list-exact-rv0-422 "$CODE" 422
raw "$D" "resourceVersion=abc&resourceVersionMatch=Exact"
expect_eq list-exact-bad-rv-400 "$CODE" 400

# restore is refused while the server holds the data dir, in one line
out=$(snap restore "$file" --data-dir "$D" 2>&1)
rc=$?
expect_eq sqlite-restore-running-rc "$rc" 1
expect_match sqlite-restore-running-msg "$out" "^minik8s etcd-snapshot restore: data dir $D is in use by pid $SPID: stop the server first$"
expect_eq sqlite-restore-running-untouched "$(cms)" "cm-b cm-c"

srv_stop
# bad input: nothing is changed
out=$(snap restore "$T/nope" --data-dir "$D" 2>&1)
expect_eq restore-missing-rc "$?" 1
expect_match restore-missing-msg "$out" "nope.*No such file"
head -c 8192 /dev/urandom >"$T/garbage"
out=$(snap restore "$T/garbage" --data-dir "$D" 2>&1)
expect_eq restore-garbage-rc "$?" 1
expect_match restore-garbage-msg "$out" "is not a SQLite database|not a minik8s store"
sqlite3 "$T/other.db" 'CREATE TABLE t (x); INSERT INTO t VALUES (1);' 2>/dev/null
out=$(snap restore "$T/other.db" --data-dir "$D" 2>&1)
expect_eq restore-foreign-db-rc "$?" 1
expect_match restore-foreign-db-msg "$out" "not a minik8s store"
out=$(snap save 'a/b' --data-dir "$D" 2>&1)
expect_eq save-bad-name-rc "$?" 2
out=$(snap frobnicate --data-dir "$D" 2>&1)
expect_eq unknown-subcommand-rc "$?" 2
out=$(snap restore --data-dir "$D" 2>&1)
expect_eq restore-no-path-rc "$?" 2
out=$(snap save --data-dir "$T/none" 2>&1)
expect_eq save-no-store-rc "$?" 1

# restore by name (in --dir), then the server on it
out=$(snap restore "$name" --data-dir "$D" 2>&1)
rc=$?
expect_eq sqlite-restore-rc "$rc" 0
expect_match sqlite-restore-output "$out" "^Restored $file into $D/state.db: [0-9]+ objects, revision [0-9]+"
restored_rev=$(sed -nE 's/.*revision ([0-9]+) .*/\1/p' <<<"$out")
if num_cmp "$restored_rev" '>=' "$last_rv"; then pass "sqlite-revision-continues ($restored_rev >= $last_rv)"
else fail sqlite-revision-continues "restored revision '$restored_rev' < $last_rv handed out before"; fi
expect_eq sqlite-restored-mode "$(stat -c %a "$D/state.db" 2>&1)" 600
srv "$D" || { fail sqlite-server-restart "see log"; done_testing; exit 1; }
expect_eq sqlite-restored-objects "$(cms)" "cm-a cm-b"
expect_eq sqlite-restored-data "$(kc get configmap cm-b -o jsonpath='{.data.k}' 2>&1)" v1
kc create configmap cm-d --from-literal=k=v1 >/dev/null 2>&1
new_rv=$(kc get configmap cm-d -o jsonpath='{.metadata.resourceVersion}')
if num_cmp "$new_rv" '>' "$last_rv"; then pass "sqlite-new-write-rv ($new_rv > $last_rv)"
else fail sqlite-new-write-rv "new write rv '$new_rv' not above $last_rv"; fi
# a watch from a revision before the restore: 410 Gone (the client lists again)
out=$(timeout 20 kubectl --kubeconfig "$KC" get --raw \
	"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv_b&timeoutSeconds=2" 2>&1)
expect_match sqlite-old-watch-410 "$out" '"code":410'
# and a list at it too (the history was dropped by the restore)
raw "$D" "resourceVersion=$rv_b&resourceVersionMatch=Exact"
expect_eq sqlite-old-list-exact-410 "$CODE" 410
expect_match sqlite-old-list-exact-reason "$(jq -r .reason <<<"$BODY" 2>&1)" "^(Expired|Gone)$"

# delete
out=$(snap delete "$name" --data-dir "$D" 2>&1)
expect_eq delete-rc "$?" 0
[ ! -e "$file" ] && [ ! -e "$D/db/snapshots/.metadata/$name" ] && pass delete-removes || fail delete-removes "$(ls -a "$D/db/snapshots" "$D/db/snapshots/.metadata")"
out=$(snap delete "$name" --data-dir "$D" 2>&1)
expect_eq delete-missing-rc "$?" 1
srv_stop

# ---- etcd --------------------------------------------------------------------
etcd_cluster_start 1 || { fail etcd-start "see $T/etcd"; done_testing; exit 1; }
E=$T/ed
srv "$E" --datastore-endpoint "$ETCD_ENDPOINTS" || { fail etcd-server-start "see log"; done_testing; exit 1; }
for n in e1 e2; do kc create configmap "$n" --from-literal=k=v1 >/dev/null 2>&1; done
kc label configmap e1 e2 snap=t >/dev/null 2>&1
expect_eq etcd-before "$(cms)" "e1 e2"
out=$(snap save --data-dir "$E" --datastore-endpoint "$ETCD_ENDPOINTS" 2>&1)
expect_eq etcd-save-rc "$?" 0
expect_match etcd-save-output "$out" "^Snapshot on-demand-[^ ]+ saved: $E/db/snapshots/on-demand-[^ ]+ \([0-9]+ bytes"
efile=$(ls "$E"/db/snapshots/on-demand-* 2>/dev/null | head -1)
expect_eq etcd-snapshot-mode "$(stat -c %a "$efile" 2>&1)" 600
# etcd's own tool reads it (and checks its SHA-256)
st=$(ETCDCTL_API=3 etcdctl snapshot status "$efile" -w json 2>&1)
erev=$(jq -r .revision <<<"$st" 2>/dev/null)
if num_cmp "$erev" '>' 0; then pass "etcd-snapshot-status (revision $erev)"; else fail etcd-snapshot-status "$st"; fi
# the metadata: the revision, or the two it lies between when the server wrote
# (its leases) during the stream
meta=$(snap ls --data-dir "$E" -o json 2>/dev/null | jq -c 'select(.backend=="etcd")')
lo=$(jq -r '.revision // .revisionMin // empty' <<<"$meta") hi=$(jq -r '.revision // .revisionMax // empty' <<<"$meta")
if num_cmp "$lo" '<=' "$erev" && num_cmp "$erev" '<=' "$hi"; then pass "etcd-meta-revision ($lo <= $erev <= $hi)"
else fail etcd-meta-revision "metadata $meta, etcdctl says $erev"; fi
kc create configmap e3 --from-literal=k=v1 >/dev/null 2>&1
kc label configmap e3 snap=t >/dev/null 2>&1
kc delete configmap e1 >/dev/null 2>&1
expect_eq etcd-changed "$(cms)" "e2 e3"
out=$(snap restore "$efile" --data-dir "$E" --datastore-endpoint "$ETCD_ENDPOINTS" 2>&1)
expect_eq etcd-restore-refused-rc "$?" 1
expect_match etcd-restore-refused-msg "$out" "etcdctl snapshot restore"
srv_stop
# the member restored as etcd documents it, started on the restored data dir
etcd_member_kill 0
rm -rf "$T/etcd/m0"
out=$(ETCDCTL_API=3 etcdctl snapshot restore "$efile" --data-dir "$T/etcd/m0" --name m0 \
	--initial-cluster "m0=${ETCD_PEERS[0]}" --initial-advertise-peer-urls "${ETCD_PEERS[0]}" \
	--initial-cluster-token "$T" 2>&1)
expect_eq etcd-etcdctl-restore "$?" 0
etcd_member_start 0
wait_until 600 etcd_member_healthy 0 && pass etcd-member-restarted || fail etcd-member-restarted "$(tail -3 "$T/etcd/m0.log")"
# through `up`: it passes --datastore-endpoint on to the server
SRV=up srv "$E" --datastore-endpoint "$ETCD_ENDPOINTS" || { fail etcd-server-restart "see log"; done_testing; exit 1; }
expect_eq etcd-restored-objects "$(cms)" "e1 e2"
srv_stop
done_testing
