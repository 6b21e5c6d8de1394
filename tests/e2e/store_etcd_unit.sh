#!/bin/bash
# The store's unit suites (build/tests/unit-store) on a real etcd member (Debian's
# etcd-server, tests/lib/etcd.sh): every check of the SQLite backend, on the etcd
# backend (MINIK8S_TEST_STORE_ENDPOINT; each store of a test gets a key prefix of its
# own, tests/unit/store/etcd_endpoint.h). etcd has one revision for its whole
# keyspace, starting at 1, so the tests check revisions relative to the one a store
# opens at, as a client compares resourceVersions (equality and order). The seal
# suite reads the SQLite file itself and stays on SQLite (the binary says so).
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/etcd.sh"
require_tools store-etcd-unit etcd
BIN=$ROOT/build/tests/unit-store
[ -x "$BIN" ] || { fail store-etcd-unit "missing $BIN (run make)"; done_testing; exit 1; }
etcd_cluster_start 1 || { fail etcd-start "could not start etcd"; done_testing; exit 1; }
# Check's verbose output has one line per test: FILE:LINE:P|F|E:CASE:TEST:...
MINIK8S_TEST_STORE_ENDPOINT=$ETCD_ENDPOINTS CK_FORK=yes CK_DEFAULT_TIMEOUT=120 CK_VERBOSITY=verbose \
	"$BIN" >"$T/unit.log" 2>&1
n=0
while IFS=: read -r file line kind tcase test rest; do
	case $kind in
	P) pass "etcd-$tcase-$test" ;;
	F | E) fail "etcd-$tcase-$test" "$file:$line: $rest" ;;
	*) continue ;;
	esac
	n=$((n + 1))
done < <(grep -E '^[^:]+:[0-9]+:[PFE]:' "$T/unit.log")
[ "$n" -gt 0 ] || { fail store-etcd-unit "no test ran:"; tail -20 "$T/unit.log"; }
done_testing
