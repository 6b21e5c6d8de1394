#!/bin/bash
# DNS benchmark: dnsperf against the minik8s responder on loopback, cluster names
# only (a zone of 1,000 ClusterIP services + 100 headless ones with 3 endpoints;
# the query mix: 60% service A, 10% SRV, 10% headless A, 10% missing names
# (NXDOMAIN), 10% search-path expansions (NXDOMAIN)), printed beside CoreDNS'
# published figure (33.7k qps on 2 vCPUs, kubernetes plugin, cluster names).
# Aim: >= 100k qps. Knobs: DNS_BENCH_SECONDS (10), DNS_BENCH_WORKERS (CPUs),
# DNS_BENCH_CLIENTS (dnsperf -c, 8), DNS_BENCH_OUTSTANDING (dnsperf -q, 500).
# Needs dnsperf (Debian package dnsperf; scripts/deps.sh bench).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SERVE=$ROOT/build/bench/dns/dns_serve
secs=${DNS_BENCH_SECONDS:-10}
workers=${DNS_BENCH_WORKERS:-$(nproc)}
command -v dnsperf >/dev/null || { echo "dns bench: dnsperf missing (scripts/deps.sh bench)"; exit 1; }
[ -x "$SERVE" ] || { echo "dns bench: missing $SERVE (make all)"; exit 1; }
T=$(mktemp -d /tmp/minik8s-bench-dns.XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$T"; }
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
dnsperf -s 127.0.0.1 -p "$port" -d "$T/queries.txt" -l "$secs" -c "${DNS_BENCH_CLIENTS:-8}" \
	-T "$(nproc)" -q "${DNS_BENCH_OUTSTANDING:-500}" >"$T/perf.out" 2>&1
rc=$?
qps=$(sed -n 's/.*Queries per second: *\([0-9.]*\).*/\1/p' "$T/perf.out")
lat=$(sed -n 's/.*Average Latency (s): *\([0-9.]*\).*/\1/p' "$T/perf.out")
lost=$(sed -n 's/.*Queries lost: *\(.*\)/\1/p' "$T/perf.out")
codes=$(sed -n 's/.*Response codes: *\(.*\)/\1/p' "$T/perf.out")
if [ "$rc" -ne 0 ] || [ -z "$qps" ]; then
	echo "dns bench: dnsperf failed (exit $rc)"; tail -20 "$T/perf.out"; exit 1
fi
kill "$PID"; wait "$PID" 2>/dev/null; PID=
printf 'dns: %s CPUs, %s UDP workers, dnsperf on the same CPUs, %ss, zone %s\n' "$(nproc)" \
	"$workers" "$secs" "$(sed -n 's/.*port [0-9]*, \(.*\)/\1/p' "$T/serve.log" | head -1)"
printf '  %-34s %12s qps   avg latency %s ms   lost %s\n' "minik8s dns (cluster names)" \
	"$(printf '%.0f' "$qps")" "$(awk -v l="$lat" 'BEGIN{printf "%.3f", l*1000}')" "$lost"
printf '  %-34s %12s\n' "  response codes" "$codes"
if command -v coredns >/dev/null; then
	echo "  (coredns found on PATH but not driven by this script: compare by hand)"
fi
printf '  %-34s %12s qps   (published, 2 vCPUs; not installable from Debian here)\n' \
	"CoreDNS anchor" "33700"
printf '  %-34s %12s qps\n' "aim" "100000"
awk -v q="$qps" 'BEGIN{printf "  ratio vs CoreDNS anchor: %.1fx\n", q/33700}'
