#!/bin/bash
# bench/batch: a Job of N completions end to end (create -> condition Complete, real
# runc pods running `true` on one node, the job controller creating them) beside its
# anchor measured in the same run: the same N pods created straight through the API
# by this script (parallel POSTs) -> all Succeeded. Both put every pod up at once
# (parallelism N), through the scheduler and the same agent. Needs root; runs inside
# a network namespace created here, removed on exit.
# Usage: bench/batch/run.sh [N]   (default 200; BENCH_MINIK8S: the binary to measure)
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
N=${1:-200}
M=${BENCH_MINIK8S:-$ROOT/build/minik8s}
[ "$(id -u)" = 0 ] || { echo "bench/batch: needs root" >&2; exit 1; }
[ -x "$M" ] || { echo "bench/batch: build $M first (make)" >&2; exit 1; }
T=$(mktemp -d /tmp/minik8s-bench-batch.XXXXXX)
NS=mkb-$$-batch
CG=/mkb-$$-batch
IN=(nsenter "--net=/run/netns/$NS")
. bench/lib.sh

bench_netns 192.168.79.2

# a one-layer busybox image, as docker-save, imported as busybox:1.36
R=$T/img/rootfs S=$T/img/save
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/proc" "$R/sys" "$R/dev" "$S/l1"
cp /bin/busybox "$R/bin/busybox"
for a in sh true; do ln -sf busybox "$R/bin/$a"; done
tar -C "$R" --sort=name -cf "$S/l1/layer.tar" .
jq -c -n --arg d "sha256:$(sha256sum "$S/l1/layer.tar" | cut -d' ' -f1)" \
	'{architecture:"amd64",os:"linux",config:{Cmd:["sh"],Env:["PATH=/bin"]},rootfs:{type:"layers",diff_ids:[$d]}}' >"$S/c.json"
h=$(sha256sum "$S/c.json" | cut -d' ' -f1); mv "$S/c.json" "$S/$h.json"
echo "[{\"Config\":\"$h.json\",\"RepoTags\":[\"busybox:1.36\"],\"Layers\":[\"l1/layer.tar\"]}]" >"$S/manifest.json"
tar -C "$S" -cf "$T/img/busybox.tar" manifest.json "$h.json" l1
"$M" image --data-dir "$T/data" import "$T/img/busybox.tar" >/dev/null || exit 1

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${IN[@]}" "$M" server --data-dir "$T/data" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
	--write-kubeconfig "$T/kubeconfig" --node-name benchnode --node-ip 192.168.79.2 \
	--run-dir "$T/run" --netns-dir "$T/netns" --cgroup-parent "$CG/agent" >"$T/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do grep -q "node agent running" "$T/server.log" && break; sleep 0.1; done
grep -q "node agent running" "$T/server.log" || { tail "$T/server.log"; exit 1; }
TOKEN=$(cat "$T/data/token")
API=https://127.0.0.1:$PORT
C() { "${IN[@]}" curl -s -m 30 --cacert "$T/data/tls/ca.crt" -H "Authorization: Bearer $TOKEN" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.3f", a - b}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a / b}'; }
C -X POST -H 'Content-Type: application/json' "$API/api/v1/namespaces" \
	-d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"direct"}}' >/dev/null
POD='{"restartPolicy":"Never","terminationGracePeriodSeconds":1,"containers":[{"name":"c","image":"busybox:1.36","command":["true"]}]}'

# ---- the Job ----
t0=$(now)
C -X POST -H 'Content-Type: application/json' "$API/apis/batch/v1/namespaces/default/jobs" \
	-d "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"bench\"},\"spec\":{\"completions\":$N,\"parallelism\":$N,\"template\":{\"spec\":$POD}}}" >/dev/null
job_s=
for _ in $(seq 6000); do
	st=$(C "$API/apis/batch/v1/namespaces/default/jobs/bench" | jq -r '[.status.conditions[]? | select(.status=="True") | .type] | join(",")')
	if [[ "$st" == *Complete* || "$st" == *Failed* ]]; then job_s=$(since "$t0"); break; fi
	sleep 0.2
done
[[ "$st" == *Complete* ]] || { echo "bench/batch: the job did not complete ($st)" >&2; exit 1; }

# ---- the anchor: the same pods straight through the API ----
t0=$(now)
seq "$N" | xargs -P 8 -I{} "${IN[@]}" curl -s -m 30 -o /dev/null --cacert "$T/data/tls/ca.crt" \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -X POST \
	"$API/api/v1/namespaces/direct/pods" -d "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p{}\"},\"spec\":$POD}"
pods_s=
for _ in $(seq 6000); do
	n=$(C "$API/api/v1/namespaces/direct/pods" | jq '[.items[] | select(.status.phase=="Succeeded")] | length')
	if [ "$n" = "$N" ]; then pods_s=$(since "$t0"); break; fi
	sleep 0.2
done
[ -n "$pods_s" ] || { echo "bench/batch: the pods did not all succeed ($n/$N)" >&2; exit 1; }

printf '%-46s %10s %10s\n' "$N pods running \`true\` (real runc, one node)" "seconds" "pods/s"
printf '%-46s %10.1f %10.1f\n' "Job completions=$N parallelism=$N" "$job_s" "$(div "$N" "$job_s")"
printf '%-46s %10.1f %10.1f\n' "anchor: $N pods POSTed straight to the API" "$pods_s" "$(div "$N" "$pods_s")"
printf '%-46s %10.2fx\n' "job / anchor" "$(div "$job_s" "$pods_s")"
. "$ROOT/bench/lib/report.sh"
bench_row batch "Job of $N completions (s)" "$job_s" s "$pods_s" "$N pods POSTed directly" lower
echo "(aim: the job controller adds little to the pods' own cost: ratio near 1)"
