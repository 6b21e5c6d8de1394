#!/bin/bash
# DNS benchmark: dnsperf against the minik8s responder on loopback, cluster names
# only (a zone of 1,000 ClusterIP services + 100 headless ones with 3 endpoints;
# the query mix: 60% service A, 10% SRV, 10% headless A, 10% missing names
# (NXDOMAIN), 10% search-path expansions (NXDOMAIN)), beside a peer run in the
# same script on the same records and queries: NSD (Debian's authoritative server,
# the same job as the cluster DNS: answer from a zone it holds), with as many
# server processes as the responder has workers. Then each one's latency at a
# fixed rate (DNS_BENCH_RATE qps, below saturation): p50 and p99 of every answer.
# Aim: >= 100k qps. Knobs: DNS_BENCH_SECONDS (10), DNS_BENCH_WORKERS (CPUs),
# DNS_BENCH_CLIENTS (dnsperf -c, 8), DNS_BENCH_OUTSTANDING (dnsperf -q, 500),
# DNS_BENCH_RATE (20000). Needs dnsperf and nsd (scripts/deps.sh bench).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVE=$ROOT/build/bench/dns/dns_serve
secs=${DNS_BENCH_SECONDS:-10}
workers=${DNS_BENCH_WORKERS:-$(nproc)}
command -v dnsperf >/dev/null || { echo "dns bench: dnsperf missing (scripts/deps.sh bench)"; exit 1; }
NSD=$(command -v nsd || echo /usr/sbin/nsd)
[ -x "$NSD" ] || { echo "dns bench: nsd missing (scripts/deps.sh bench)"; exit 1; }
rate=${DNS_BENCH_RATE:-20000}
[ -x "$SERVE" ] || { echo "dns bench: missing $SERVE (make all)"; exit 1; }
T=$(mktemp -d /tmp/minik8s-bench-dns.XXXXXX)
PID=
NSD_PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "$NSD_PID" ] && kill "$NSD_PID" 2>/dev/null && wait "$NSD_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

python3 - >"$T/queries.txt" <<'PY'
import random
random.seed(1)
for _ in range(20000):
    r, k = random.random(), random.randrange(1000)
    if r < 0.6: print(f"svc-{k}.bench.svc.cluster.local A")
    elif r < 0.7: print(f"_http._tcp.svc-{k}.bench.svc.cluster.local SRV")
    elif r < 0.8: print(f"hl-{k // 10 * 10}.bench.svc.cluster.local A")
    elif r < 0.9: print(f"missing-{k}.bench.svc.cluster.local A")
    else: print(f"svc-{k}.bench.svc.cluster.local.bench.svc.cluster.local A")
PY
"$SERVE" --listen 127.0.0.1 --port 0 --workers "$workers" --generate 1000 \
	--ready-file "$T/port" 2>"$T/serve.log" &
PID=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
[ -s "$T/port" ] || { echo "dns bench: responder did not start"; cat "$T/serve.log"; exit 1; }
port=$(cat "$T/port")
# perf PORT NAME: the throughput run; sets QPS LAT LOST CODES
perf() {
	dnsperf -s 127.0.0.1 -p "$1" -d "$T/queries.txt" -l "$secs" -c "${DNS_BENCH_CLIENTS:-8}" \
		-T "$(nproc)" -q "${DNS_BENCH_OUTSTANDING:-500}" >"$T/perf-$2.out" 2>&1
	local rc=$?
	QPS=$(sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' "$T/perf-$2.out")
	LAT=$(sed -n 's/.*Average Latency (s): *\([0-9.]*\).*/\1/p' "$T/perf-$2.out")
	LOST=$(sed -n 's/.*Queries lost: *\(.*\)/\1/p' "$T/perf-$2.out")
	CODES=$(sed -n 's/.*Response codes: *\(.*\)/\1/p' "$T/perf-$2.out")
	if [ "$rc" -ne 0 ] || [ -z "$QPS" ]; then
		echo "dns bench: dnsperf against $2 failed (exit $rc)"; tail -20 "$T/perf-$2.out"; exit 1
	fi
}
# latency PORT NAME: every answer's latency at $rate qps for 3 s; sets P50 P99 (ms)
latency() {
	dnsperf -s 127.0.0.1 -p "$1" -d "$T/queries.txt" -l 3 -Q "$rate" -c 4 -q 200 -v \
		>"$T/lat-$2.out" 2>&1
	read -r P50 P99 < <(awk '/^> / { print $NF * 1000 }' "$T/lat-$2.out" | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "- -"; else printf "%.3f %.3f\n", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1] }')
}
perf "$port" minik8s
M_QPS=$QPS M_LAT=$LAT M_LOST=$LOST M_CODES=$CODES
latency "$port" minik8s
M_P50=$P50 M_P99=$P99
kill "$PID"; wait "$PID" 2>/dev/null; PID=

# the peer: NSD on the same records (dns_serve --generate's names and addresses)
python3 - "$T/zone" <<'PY'
import sys
z = ["$ORIGIN cluster.local.", "$TTL 5",
     "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5",
     "@ IN NS ns.dns.cluster.local.", "ns.dns IN A 10.96.0.10"]
for i in range(1000):
    z.append(f"svc-{i}.bench.svc IN A 10.{96 + i // 65536}.{(i // 256) % 256}.{i % 256}")
    z.append(f"_http._tcp.svc-{i}.bench.svc IN SRV 0 100 80 svc-{i}.bench.svc.cluster.local.")
    if i % 10 == 0:
        for p in ("10.244", "10.245", "10.246"):
            z.append(f"hl-{i}.bench.svc IN A {p}.{(i // 250) % 256}.{i % 250 + 1}")
open(sys.argv[1], "w").write("\n".join(z) + "\n")
PY
nport=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$nport
  server-count: $workers
  username: ""
  zonesdir: "$T"
  database: ""
  pidfile: "$T/nsd.pid"
  xfrdfile: "$T/xfrd.state"
  zonelistfile: "$T/zone.list"
  logfile: "$T/nsd.log"
  hide-version: yes
  reuseport: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "cluster.local"
  zonefile: "zone"
EOF
"$NSD" -d -c "$T/nsd.conf" 2>>"$T/nsd.log" &
NSD_PID=$!
for _ in $(seq 100); do
	dig +short +time=1 +tries=1 @127.0.0.1 -p "$nport" svc-1.bench.svc.cluster.local 2>/dev/null | grep -q . && break
	sleep 0.1
done
perf "$nport" nsd
latency "$nport" nsd
kill "$NSD_PID"; wait "$NSD_PID" 2>/dev/null; NSD_PID=

printf 'dns: %s CPUs, %s UDP workers (NSD: %s server processes), dnsperf on the same CPUs, %ss\n' \
	"$(nproc)" "$workers" "$workers" "$secs"
printf '  %-34s %10s %13s %9s %9s %6s\n' "" "qps" "avg lat (ms)" "p50 (ms)" "p99 (ms)" "lost"
row() {
	printf '  %-34s %10.0f %13.3f %9s %9s %6s\n' "$1" "$2" "$(awk -v l="$3" 'BEGIN { print l * 1000 }')" \
		"$4" "$5" "$(awk '{ print $1 }' <<<"$6")"
}
row "minik8s dns (cluster names)" "$M_QPS" "$M_LAT" "$M_P50" "$M_P99" "$M_LOST"
row "NSD $("$NSD" -v 2>&1 | awk '/^NSD version/ { print $3; exit }') (same zone: the anchor)" "$QPS" "$LAT" "$P50" "$P99" "$LOST"
printf '  %-34s %s\n' "minik8s response codes" "$M_CODES"
printf '  %-34s %s\n' "NSD response codes" "$CODES"
printf '  %-34s %10s qps\n' "aim" "100000"
awk -v a="$M_QPS" -v b="$QPS" 'BEGIN { printf "  ratio qps minik8s / NSD: %.2fx\n", a / b }'
. "$ROOT/bench/lib/report.sh"
bench_row dns "queries/s (cluster names)" "$(printf '%.0f' "$M_QPS")" "/s" "$(printf '%.0f' "$QPS")" "NSD, same zone" higher
bench_row dns "latency p50 at $rate qps" "$M_P50" ms "$P50" "NSD, same zone" lower
bench_row dns "latency p99 at $rate qps" "$M_P99" ms "$P99" "NSD, same zone" lower
