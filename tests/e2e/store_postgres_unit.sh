#!/bin/bash
# The store's unit suites (build/tests/unit-store) on a real PostgreSQL: every check
# of the SQLite backend, on the postgres backend (MINIK8S_TEST_STORE_ENDPOINT; each
# store of a test gets a schema of its own). The seal suite reads the SQLite file
# itself and stays on SQLite (the binary says so).
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/pg.sh"
BIN=$ROOT/build/tests/unit-store
[ -x "$BIN" ] || { fail store-postgres-unit "missing $BIN (run make)"; done_testing; exit 1; }
pg_start || { fail pg-start "could not start PostgreSQL"; done_testing; exit 1; }
# Check's verbose output has one line per test: FILE:LINE:P|F|E:CASE:TEST:...
MINIK8S_TEST_STORE_ENDPOINT=$PG_ENDPOINT CK_FORK=yes CK_DEFAULT_TIMEOUT=120 CK_VERBOSITY=verbose \
	"$BIN" >"$T/unit.log" 2>&1
n=0
while IFS=: read -r file line kind tcase test rest; do
	case $kind in
	P) pass "pg-$tcase-$test" ;;
	F | E) fail "pg-$tcase-$test" "$file:$line: $rest" ;;
	*) continue ;;
	esac
	n=$((n + 1))
done < <(grep -E '^[^:]+:[0-9]+:[PFE]:' "$T/unit.log")
[ "$n" -gt 0 ] || { fail store-postgres-unit "no test ran:"; tail -20 "$T/unit.log"; }
done_testing
