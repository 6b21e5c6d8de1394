#!/bin/bash
# bench/store: the store alone on every datastore, in one run: durable creates/s with
# 1 and 16 writers and the watch latency (create started -> ADDED event delivered to
# a store watch, p50/p99), through mk_store (store_bench), each beside the engine's
# own client writing the same ~1 KB rows:
#   sqlite        a fresh file; anchor: plain SQLite, one transaction per insert
#                 (WAL, synchronous=FULL)
#   etcd-1/etcd-3 private etcd members (tests/lib/etcd.sh: 1, then 3 members on
#                 127.0.0.1); anchor: etcd's HTTP gateway (/v3/kv/put), one curl
#                 doing the puts one after the other (1) or 16 at a time (--parallel)
#   postgres      a private PostgreSQL 15 (tests/lib/pg.sh); anchor: pgbench -c 1 /
#                 -c 16 with a script that INSERTs a ~1 KB row (autocommit)
# Everything runs in a temp dir (tests/lib/lib.sh's $T) on the disk, the engines are
# stopped by PID and the dir removed at exit. Knobs: BENCH_STORE_OPS (creates per
# 16-writer line, a quarter with 1 writer; default 8000: a few minutes in all),
# BENCH_STORE_WATCH (watch events, default 200), BENCH_STORE_BACKENDS (default
# "sqlite etcd-1 etcd-3 postgres"; etcd-N: N members, 1..5).
# Exit status: 0 when every line ran without a failed write.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
. "$HERE/../../tests/lib/etcd.sh"
. "$HERE/../../tests/lib/pg.sh"
. "$HERE/../lib/report.sh"

OPS=${BENCH_STORE_OPS:-8000}
WATCH=${BENCH_STORE_WATCH:-200}
BACKENDS=${BENCH_STORE_BACKENDS:-sqlite etcd-1 etcd-3 postgres}
BENCH="$ROOT/build/bench/store/store_bench"
status=0
[ -x "$BENCH" ] || { echo "bench/store: $BENCH missing (make)" >&2; exit 1; }
[ "$OPS" -ge 16 ] || OPS=16
OPS1=$((OPS / 4))
# the pod store_bench writes is ~1 KB; the anchors write one of the same size
POD=$(head -c 1082 /dev/zero | tr '\0' 'x')
POD="{\"kind\":\"Pod\",\"data\":\"${POD:0:1050}\"}"

fig() { awk -v k="$2" '$1 == k { v = $2 } END { print v }' "$1"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { if (b > a) printf "%.0f", n / (b - a) }'; }

# rows BACKEND FILE ANCHOR1 ANCHOR16 ANCHOR_NAME: the summary rows of one backend
rows() {
	local b=$1 f=$2
	printf '%-10s anchor (%s): %s creates/s with 1 writer, %s with 16\n' "$b" "$5" "${3:--}" "${4:--}"
	bench_row store "$b: creates/s, 1 writer" "$(fig "$f" creates_1)" /s "${3:--}" "$5" higher
	bench_row store "$b: creates/s, 16 writers" "$(fig "$f" creates_16)" /s "${4:--}" "$5" higher
	bench_row store "$b: watch create->event p50" "$(fig "$f" watch_p50_ms)" ms - "" lower
	bench_row store "$b: watch create->event p99" "$(fig "$f" watch_p99_ms)" ms - "" lower
}

run_bench() { # run_bench LABEL [ENDPOINT]: store_bench's lines; figures in $T/LABEL.fig
	local args=(-d "$T" -n "$OPS" -w "$WATCH" -l "$1" -o "$T/$1.fig")
	[ -n "${2:-}" ] && args+=(-e "$2")
	timeout 600 "$BENCH" "${args[@]}" || { echo "bench/store: $1: store_bench failed" >&2; status=1; }
}

# etcd_puts URL N PARALLEL PREFIX: N puts of the pod under PREFIX-i through etcd's
# gateway in one curl process (keep-alive), PARALLEL at a time; prints puts/s, or
# nothing when one failed
etcd_puts() {
	local url=$1 n=$2 par=$3 cfg=$T/curl-$4.cfg t0 t1 ok
	python3 - "$url" "$n" "$4" "$POD" >"$cfg" <<'PY' || return 0
import base64, sys
url, n, pre, pod = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
b64 = lambda s: base64.b64encode(s.encode()).decode()
val = b64(pod)
for i in range(n):
    key = b64(f"/floor/pods/default/{pre}-{i:06d}")
    if i:
        print("next")
    print(f'url = "{url}/v3/kv/put"\ndata = "{{\\"key\\":\\"{key}\\",\\"value\\":\\"{val}\\"}}"\n'
          'silent\noutput = "/dev/null"\nwrite-out = "%{http_code}\\n"')
PY
	local p=()
	[ "$par" -gt 1 ] && p=(--parallel --parallel-max "$par")
	t0=$(now)
	timeout 300 curl "${p[@]}" -K "$cfg" >"$cfg.out" 2>"$cfg.err"
	t1=$(now)
	ok=$(grep -c '^200$' "$cfg.out")
	if [ "$ok" -ne "$n" ]; then
		echo "bench/store: etcd anchor: $ok of $n puts answered 200; codes:" \
			"$(sort "$cfg.out" | uniq -c | tr '\n' ' ') $(tail -2 "$cfg.err")" >&2
		return 0
	fi
	rm -f "$cfg" "$cfg.out" "$cfg.err"
	rate "$n" "$t0" "$t1"
}

etcd_stop() {
	local i p keep=()
	for i in "${!ETCD_PIDS[@]}"; do etcd_member_kill "$i"; done
	for p in "${_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && keep+=("$p"); done
	_PIDS=("${keep[@]}")
	# shellcheck disable=SC2034 # tests/lib/etcd.sh's
	ETCD_URLS=() ETCD_PIDS=() ETCD_PEERS=() ETCD_ENDPOINTS=""
	rm -rf "$T/etcd"
}

bench_etcd() { # bench_etcd MEMBERS
	local b=etcd-$1 a1 a16
	if ! etcd_cluster_start "$1"; then
		echo "bench/store: $b did not start" >&2
		status=1
		etcd_stop
		return
	fi
	run_bench "$b" "$ETCD_ENDPOINTS"
	a1=$(etcd_puts "${ETCD_URLS[0]}" "$OPS1" 1 "p1")
	a16=$(etcd_puts "${ETCD_URLS[0]}" "$OPS" 16 "p16")
	if [ -z "$a1" ] || [ -z "$a16" ]; then status=1; fi
	rows "$b" "$T/$b.fig" "$a1" "$a16" "etcd gateway puts (curl)"
	etcd_stop
}

# pgbench_tps CLIENTS TXNS_PER_CLIENT
pgbench_tps() {
	timeout 300 pgbench -n -h 127.0.0.1 -p "$PG_PORT" -U postgres -f "$T/insert.sql" \
		-c "$1" -j "$(($1 < 2 ? 1 : 2))" -t "$2" postgres 2>"$T/pgbench.err" |
		awk '/^tps = / { printf "%.0f", $3 }'
}

bench_pg() {
	local a1 a16
	pg_start || { echo "bench/store: postgres did not start" >&2; status=1; return; }
	run_bench postgres "$PG_ENDPOINT"
	# a table like the store's revision table; the row's text is base64 in the script
	# (pgbench reads ":word" as a variable, which the JSON would hold)
	psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres postgres -c \
		"CREATE TABLE floor_rev (id bigserial PRIMARY KEY, resource text NOT NULL, ns text NOT NULL,
		  name text NOT NULL, value text NOT NULL);
		 CREATE SEQUENCE floor_name;
		 CREATE INDEX floor_rev_key ON floor_rev (resource, ns, name, id)" >/dev/null || status=1
	printf "INSERT INTO floor_rev (resource, ns, name, value) VALUES ('pods', 'default', 'f-' || nextval('floor_name'), convert_from(decode('%s', 'base64'), 'UTF8'));\n" \
		"$(printf '%s' "$POD" | base64 -w0)" >"$T/insert.sql"
	a1=$(pgbench_tps 1 "$OPS1")
	a16=$(pgbench_tps 16 $((OPS / 16)))
	if [ -z "$a1" ] || [ -z "$a16" ]; then
		echo "bench/store: pgbench: $(tail -3 "$T/pgbench.err")" >&2
		status=1
	fi
	rows postgres "$T/postgres.fig" "$a1" "$a16" "pgbench INSERT ~1 KB row"
	pg_stop
}

echo "bench/store: $OPS creates per 16-writer line, $OPS1 with 1 writer, $WATCH watch events; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in $BACKENDS; do
	case $b in
	sqlite)
		run_bench sqlite
		rows sqlite "$T/sqlite.fig" "$(fig "$T/sqlite.fig" anchor_1)" "$(fig "$T/sqlite.fig" anchor_16)" \
			"SQLite txn per insert"
		;;
	etcd-[1-5]) bench_etcd "${b#etcd-}" ;;
	postgres) bench_pg ;;
	*) echo "bench/store: unknown backend '$b'" >&2; status=1 ;;
	esac
done
exit $status
