#!/bin/bash
# test: alone (it measures the server under load; see tests/run.sh)
# A server doing 10,000 pod creates and deletes does not grow in memory, and a pod
# that stays costs it little (see the end): after a
# warm-up that fills every bounded cache (the store's in-memory event ring holds
# 8192 events and 16 MiB of their text at most, SQLite's page caches, TLS session state), the anonymous resident
# memory (RssAnon) is sampled, 10,000 creates + 10,000 deletes run over keep-alive HTTPS connections
# (python3 http.client), and RSS is sampled again. Leaks of even a few hundred
# bytes per request would add megabytes; the allowance (MEM_GROWTH_MAX_KB, default
# 8192) covers allocator noise. Run it against the sanitized build with
# MINIK8S=build-san/build/minik8s (ASan then also reports leaks at exit).
# The pods are bound to a node that does not exist (spec.nodeName "ghost"): unbound
# pods would each leave a FailedScheduling Event behind (stored data, not a leak),
# which is checked below.
. "$(dirname "$0")/../lib/lib.sh"
max_kb=${MEM_GROWTH_MAX_KB:-8192}
warm=${MEM_WARMUP:-5000}
n=${MEM_OPS:-10000}
curl_max_time 30
# ASan's quarantine keeps freed memory out of reuse (256 MB by default), so under a
# sanitized build RSS would grow with every free: the measure needs freed memory
# reused. LeakSanitizer still reports any leak when the server exits.
[ "$MINIK8S_SAN" == 1 ] && export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0"
start_server || { fail server_memory_start "server did not start"; exit 1; }

cat >"$T/churn.py" <<'PY'
import http.client, json, ssl, sys
host, port, token, cafile, count, prefix = sys.argv[1:7]
count = int(count)
ctx = ssl.create_default_context(cafile=cafile)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
conn = None
def req(method, path, body=None):
    global conn
    for attempt in range(3):
        try:
            if conn is None:
                conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
            conn.request(method, path, body=body, headers=hdr)
            r = conn.getresponse()
            data = r.read()
            return r.status, data
        except (http.client.HTTPException, OSError):
            conn = None
    raise SystemExit(f"{method} {path}: connection failed 3 times")
base = "/api/v1/namespaces/default/pods"
for i in range(count):
    name = f"{prefix}-{i}"
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"app": "churn", "i": str(i)}},
           "spec": {"nodeName": "ghost", "containers": [{"name": "c", "image": "busybox:1.36",
                                    "command": ["sleep", "3600"]}]}}
    s, d = req("POST", base, json.dumps(pod))
    if s != 201:
        raise SystemExit(f"create {name}: HTTP {s} {d[:200]!r}")
    s, d = req("DELETE", f"{base}/{name}", json.dumps({"gracePeriodSeconds": 0}))
    if s != 200:
        raise SystemExit(f"delete {name}: HTTP {s} {d[:200]!r}")
print(count)
PY
churn() { python3 "$T/churn.py" 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" "$1" "$2" 2>&1; }
# the anonymous resident memory (heap, stacks): what a leak grows. File-backed pages
# (SQLite's mmap of the database and its WAL index) grow with the database and
# are page cache the kernel can drop; they are printed, not judged.
rss_kb() { awk '/^RssAnon:/ {print $2}' "/proc/$SERVER_PID/status"; }
rss_file_kb() { awk '/^RssFile:/ {print $2}' "/proc/$SERVER_PID/status"; }

out=$(churn "$warm" warm)
expect_eq server_memory_warmup "$out" "$warm"
before=$(rss_kb) before_file=$(rss_file_kb)
out=$(churn "$n" churn)
expect_eq server_memory_churn "$out" "$n"
after=$(rss_kb) after_file=$(rss_file_kb)
api GET /api/v1/namespaces/default/pods
expect_eq server_memory_no_pods_left "$(jqb '.items | length')" 0
api GET /api/v1/events
events=$(jqb '.items | length')
num_cmp "$events" '<' 100 && pass "server_memory_few_events ($events)" ||
	fail server_memory_few_events "$events events stored: the growth below is data, not a leak"
growth=$((after - before))
echo "anonymous RSS before ${before} kB, after ${after} kB, growth ${growth} kB over $n creates + $n deletes" \
	"(file-backed RSS ${before_file} -> ${after_file} kB)"
if num_cmp "$before" '>' 0 && [ "$growth" -le "$max_kb" ]; then
	pass "server_memory_no_growth (${growth} kB <= ${max_kb} kB)"
else
	fail server_memory_no_growth "anonymous RSS grew ${growth} kB (${before} -> ${after} kB), allowed ${max_kb} kB"
fi

# What a pod that stays costs: MEM_KEEP (2000) pods are created and kept (bound to the
# ghost node, so no controller writes more about them), after the churn above
# has filled every bounded cache (the event ring is full by count or by bytes).
# Each pod's stored text is held once by the list cache, and once more, compact
# and without managedFields, by the controllers' pod informer. That informer
# also keeps parsed trees for at most 512 objects: 600 kept pods fill them
# before the first sample. ~3 kB a pod here, against ~7 kB when the informers
# held a parsed cJSON tree per object. MEM_POD_MAX_KB (default 5) leaves room
# for allocator noise; a cache that keeps a parsed tree per object again, or the
# event ring growing with the pods, goes over it.
keep=${MEM_KEEP:-2000}
per_max=${MEM_POD_MAX_KB:-5}
cat >"$T/keep.py" <<'PY'
import http.client, json, ssl, sys
host, port, token, cafile, first, count = sys.argv[1:7]
ctx = ssl.create_default_context(cafile=cafile)
hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
for i in range(int(first), int(first) + int(count)):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": f"keep-{i}", "labels": {"app": "keep", "i": str(i)}},
           "spec": {"nodeName": "ghost", "containers": [{"name": "c", "image": "busybox:1.36",
                                    "command": ["sleep", "3600"]}]}}
    conn.request("POST", "/api/v1/namespaces/default/pods", body=json.dumps(pod), headers=hdr)
    r = conn.getresponse()
    d = r.read()
    if r.status != 201:
        raise SystemExit(f"create keep-{i}: HTTP {r.status} {d[:200]!r}")
print(count)
PY
out=$(python3 "$T/keep.py" 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" 0 600 2>&1)
expect_eq server_memory_keep_warmup "$out" 600
sleep 1
before=$(rss_kb)
out=$(python3 "$T/keep.py" 127.0.0.1 "$PORT" "$TOKEN" "$CACERT" 600 "$keep" 2>&1)
expect_eq server_memory_keep_created "$out" "$keep"
# every kept pod is listed (bounded wait); the controllers' informers follow the
# same event feed, and get 2 s more (a lag could only lower the figure)
for _ in $(seq 100); do
	api GET "/api/v1/namespaces/default/pods?labelSelector=app%3Dkeep"
	[ "$(jqb '.items | length')" = "$((keep + 600))" ] && break
	sleep 0.2
done
sleep 2
after=$(rss_kb)
per=$(awk -v a="$after" -v b="$before" -v n="$keep" 'BEGIN { printf "%.1f", (a - b) / n }')
echo "anonymous RSS ${before} kB -> ${after} kB with $keep more pods: ${per} kB a pod"
if awk -v p="$per" -v m="$per_max" 'BEGIN { exit !(p <= m) }'; then
	pass "server_memory_per_pod (${per} kB <= ${per_max} kB)"
else
	fail server_memory_per_pod "${per} kB a kept pod, allowed ${per_max} kB"
fi
check server_memory_healthy server_healthy
done_testing
