#!/bin/bash
# minik8s server on PostgreSQL (--datastore-endpoint), with real kubectl: create,
# list, watch, update through one server; a second server on the same database
# lists and watches what the first one writes (one revision sequence); kill -9 of a
# server loses no acknowledged write. PostgreSQL is a private cluster of the test's
# own (tests/lib/pg.sh), removed on exit.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/pg.sh"
require_tools store-postgres kubectl curl
pg_start || { fail pg-start "could not start PostgreSQL"; done_testing; exit 1; }

# srv NAME: starts a server with data dir $T/NAME on the shared database; sets
# PID_NAME and writes $T/NAME.kubeconfig
# the servers of one datastore share the cluster token (the bootstrap data is sealed with it)
CLUSTER_TOKEN=store-test-token-$RANDOM$RANDOM
srv() {
	local name=$1 port i
	port=$(free_port)
	"$MINIK8S" server --data-dir "$T/$name" --bind-address 127.0.0.1 --https-listen-port "$port" \
		--write-kubeconfig "$T/$name.kubeconfig" --disable-agent \
		--token "$CLUSTER_TOKEN" --datastore-endpoint "${EP:-$PG_ENDPOINT}" >>"$T/$name.log" 2>&1 &
	local pid=$!
	_PIDS+=("$pid")
	eval "PID_$name=$pid"
	for i in $(seq 300); do
		if [ -f "$T/$name.kubeconfig" ] &&
			curl -sf --cacert "$T/$name/tls/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:"; tail -5 "$T/$name.log"
	return 1
}
ka() { kubectl --kubeconfig "$T/a.kubeconfig" --request-timeout=20s "$@"; }
kb() { kubectl --kubeconfig "$T/b.kubeconfig" --request-timeout=20s "$@"; }
# wait_file FILE REGEX: up to ~20 s for a line matching REGEX in FILE
wait_file() {
	local i
	for i in $(seq 200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

srv a || { fail server-a-start "see log"; done_testing; exit 1; }
pass server-a-on-postgres

# create / get / list / update through one server
out=$(ka create configmap cm1 --from-literal=k=v1 2>&1)
expect_match create "$out" "configmap/cm1 created"
expect_eq get "$(ka get configmap cm1 -o jsonpath='{.data.k}' 2>&1)" "v1"
rv1=$(ka get configmap cm1 -o jsonpath='{.metadata.resourceVersion}')
ka get configmaps --watch -o jsonpath='{.metadata.name}={.data.k}{"\n"}' >"$T/watch-a" 2>&1 &
wpid=$!
_PIDS+=("$wpid")
wait_file "$T/watch-a" '^cm1=v1$' || fail watch-a-initial "$(cat "$T/watch-a")"
ka patch configmap cm1 -p '{"data":{"k":"v2"}}' >/dev/null 2>&1
rv2=$(ka get configmap cm1 -o jsonpath='{.metadata.resourceVersion}')
if [ -n "$rv1" ] && [ -n "$rv2" ] && [ "$rv2" -gt "$rv1" ]; then
	pass "update-new-revision ($rv1 -> $rv2)"
else
	fail update-new-revision "resourceVersion $rv1 -> $rv2"
fi
if wait_file "$T/watch-a" '^cm1=v2$'; then pass watch-sees-update; else fail watch-sees-update "$(cat "$T/watch-a")"; fi
# a stale resourceVersion is refused (compare-and-swap in the database)
out=$(ka replace -f - 2>&1 <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: default, resourceVersion: "$rv1"}
data: {k: stale}
EOF
)
expect_match stale-update-conflict "$out" "Conflict|modified"
expect_eq list "$(ka get configmaps -o jsonpath='{.items[*].metadata.name}' 2>&1 | tr ' ' '\n' | grep -c '^cm1$')" "1"

# a second server on the same database
srv b || { fail server-b-start "see log"; done_testing; exit 1; }
expect_eq b-lists-a-write "$(kb get configmap cm1 -o jsonpath='{.data.k}' 2>&1)" "v2"
# a watch through b from the revision of b's list sees a write made through a
lrv=$(kb get configmaps -o jsonpath='{.metadata.resourceVersion}')
ka create configmap cm2 --from-literal=k=from-a >/dev/null 2>&1
out=$(timeout 20 kubectl --kubeconfig "$T/b.kubeconfig" get --raw \
	"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$lrv&timeoutSeconds=2" 2>&1)
expect_match b-watches-a-write "$out" '"type":"ADDED".*"name":"cm2"'
kb create configmap cm3 --from-literal=k=from-b >/dev/null 2>&1
if wait_file "$T/watch-a" '^cm3=from-b$'; then pass a-watches-b-write; else fail a-watches-b-write "$(cat "$T/watch-a")"; fi
# one revision sequence: the object written through b has a higher revision than
# the one written through a before it, seen alike from both
ra=$(ka get configmap cm3 -o jsonpath='{.metadata.resourceVersion}')
rb=$(kb get configmap cm3 -o jsonpath='{.metadata.resourceVersion}')
r2=$(kb get configmap cm2 -o jsonpath='{.metadata.resourceVersion}')
if [ -n "$ra" ] && [ "$ra" == "$rb" ] && [ "$ra" -gt "$r2" ]; then
	pass "one-revision-sequence (cm2 $r2 < cm3 $ra)"
else
	fail one-revision-sequence "cm3 via a '$ra', via b '$rb', cm2 '$r2'"
fi

# kill -9 server a right after acknowledged writes; restart; nothing lost
acked=()
for i in $(seq 1 10); do
	ka create configmap "k$i" --from-literal=i="$i" >/dev/null 2>&1 && acked+=("k$i")
done
kill -9 "$PID_a"
wait "$PID_a" 2>/dev/null
expect_eq acked-before-kill "${#acked[@]}" "10"
# restarted with the libpq key=value form of the same database, with a password
# (ignored by the trust authentication) that `minik8s status` must not show
PW=not-shown-$RANDOM$RANDOM
EP="host=127.0.0.1 port=$PG_PORT user=postgres password=$PW dbname=postgres sslmode=disable" srv a ||
	{ fail server-a-restart "see log"; done_testing; exit 1; }
st=$("$MINIK8S" status --data-dir "$T/a" --kubeconfig "$T/a.kubeconfig" 2>&1)
expect_match status-datastore "$st" "datastore: +postgres host=127\.0\.0\.1 .*password=\*\*\* "
if grep -qF "$PW" <<<"$st"; then fail status-hides-password "$st"; else pass status-hides-password; fi
check same-ca-on-both-servers cmp -s "$T/a/tls/ca.crt" "$T/b/tls/ca.crt"
names=$(ka get configmaps -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' 2>&1)
lost=""
for n in "${acked[@]}"; do grep -qx "$n" <<<"$names" || lost="$lost $n"; done
expect_eq no-acknowledged-write-lost "${lost:-none}" "none"
expect_eq b-sees-them-too "$(kb get configmaps -o name 2>&1 | grep -c '/k[0-9]*$')" "10"
# the restarted server's watch resumes from a revision before the kill (no 410)
out=$(timeout 10 kubectl --kubeconfig "$T/a.kubeconfig" get --raw \
	"/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv2&timeoutSeconds=1" 2>&1)
expect_match watch-resume-after-restart "$out" '"name":"k10"'
# an unreachable database: a one-line error, exit status 1
out=$("$MINIK8S" server --data-dir "$T/c" --bind-address 127.0.0.1 --https-listen-port "$(free_port)" \
	--write-kubeconfig "$T/c.kubeconfig" --disable-agent \
	--datastore-endpoint "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=5" 2>&1)
rc=$?
if [ "$rc" == 1 ] && [[ "$out" == *"connect to postgres"* ]] && [ "$(grep -c . <<<"$out")" == 1 ]; then
	pass unreachable-database-error
else
	fail unreachable-database-error "rc $rc: $out"
fi
out=$("$MINIK8S" server --data-dir "$T/c" --datastore-endpoint "mysql://x" 2>&1)
expect_match unknown-scheme-error "$out" "unknown datastore endpoint scheme 'mysql'"
if [ "$FAILED" == 1 ]; then for n in a b; do echo "--- $n.log"; tail -15 "$T/$n.log"; done; fi
done_testing
