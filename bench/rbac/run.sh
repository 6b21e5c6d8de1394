#!/bin/bash
# bench/rbac: what RBAC costs a request. One `minik8s server` (tests/lib/lib.sh), in the
# same run: GET one pod and list a namespace's pods with the admin token (system:masters,
# allowed before RBAC) and with a --token-auth-file user bound by a RoleBinding to a
# Role among a few hundred other roles and bindings (the RBAC index walked per request),
# printed side by side with the ratio (aim: >= 90 %). wrk over TLS, 4 connections.
# The two identities alternate for BENCH_ROUNDS rounds and the best round of each is
# kept, so load from outside the benchmark weighs on both alike.
# Knobs: BENCH_DURATION (s per wrk run, default 5), BENCH_ROUNDS (default 3),
# BENCH_BINDINGS (extra bindings and roles, default 300), BENCH_MINIK8S (binary).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../tests/lib/lib.sh"
MINIK8S=${BENCH_MINIK8S:-$MINIK8S}
DURATION=${BENCH_DURATION:-5}
ROUNDS=${BENCH_ROUNDS:-3}
NB=${BENCH_BINDINGS:-300}
NS=benchrbac
USER_TOKEN=bench-user-token-$$-0123456789

die() { echo "bench/rbac: $*" >&2; exit 1; }
for tool in wrk curl python3 jq; do
	command -v "$tool" >/dev/null || die "'$tool' not installed (scripts/deps.sh bench)"
done
[ -x "$MINIK8S" ] || die "build/minik8s missing (make)"
printf '%s,bench,bench-uid,"benchers"\n' "$USER_TOKEN" >"$T/tokens.csv"
start_server --disable-controllers --token-auth-file "$T/tokens.csv" || die "server did not start"
echo "bench/rbac: server pid $SERVER_PID at $API"

post() { # post PATH JSON
	api_json POST "$1" "$2"
	[ "$HTTP_CODE" = 201 ] || die "POST $1: HTTP $HTTP_CODE: ${BODY:0:200}"
}
post /api/v1/namespaces "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$NS\"}}"
post "/api/v1/namespaces/$NS/pods" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p0"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}'
for i in $(seq 1 20); do
	post "/api/v1/namespaces/$NS/pods" "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p$i\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}"
done
# noise: NB roles and bindings for other users, so the index is not trivially small
# (one python3 process, one TLS connection: no curl per object)
python3 - "$API" "$TOKEN" "$CACERT" "$NS" "$NB" <<'PY' || die "could not create the roles and bindings"
import http.client, json, ssl, sys, urllib.parse
api, token, ca, ns, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(api)
c = http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(cafile=ca))
h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
base = "/apis/rbac.authorization.k8s.io/v1/namespaces/%s/" % ns
for i in range(1, n + 1):
    for kind, body in (("roles", {"metadata": {"name": "r%d" % i}, "rules": [{"apiGroups": [""],
                        "resources": ["configmaps"], "verbs": ["get"]}]}),
                       ("rolebindings", {"metadata": {"name": "b%d" % i}, "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r%d" % i},
                        "subjects": [{"kind": "User", "name": "someone%d" % i}]})):
        c.request("POST", base + kind, json.dumps(body), h)
        r = c.getresponse()
        r.read()
        if r.status != 201:
            sys.exit("POST %s: %d" % (kind, r.status))
PY
post "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/roles" \
	'{"metadata":{"name":"pod-reader"},"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]}'
post "/apis/rbac.authorization.k8s.io/v1/namespaces/$NS/rolebindings" \
	'{"metadata":{"name":"bench-read"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"pod-reader"},"subjects":[{"kind":"User","name":"bench"}]}'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CACERT" -H "Authorization: Bearer $USER_TOKEN" "$API/api/v1/namespaces/$NS/pods/p0")
[ "$code" = 200 ] || die "the bound user's GET answered $code"

# run WHO TOKEN PATH: prints requests/s, p50 and p99 (ms)
run() {
	local out="$T/wrk-$1.txt" line
	wrk -t2 -c4 -d"${DURATION}"s --timeout 10s --latency -s "$HERE/get.lua" "$API" -- "$2" "$3" >"$out" 2>&1
	line=$(grep '^RESULT ' "$out") || { cat "$out"; die "wrk produced no result"; }
	eval "$(sed 's/^RESULT //; s/\([a-z0-9_]*\)=/R_\1=/g' <<<"$line")"
	[ "$R_errors" = 0 ] && [ "$R_timeouts" = 0 ] || die "$1: $R_errors errors, $R_timeouts timeouts"
	python3 -c "print(f'{$R_requests / ($R_duration_us / 1e6):.0f} {$R_p50_us / 1000:.2f} {$R_p99_us / 1000:.2f}')"
}
. "$HERE/../lib/report.sh"
printf '\n%-22s %12s %12s %7s   %s\n' "request" "admin req/s" "RBAC req/s" "ratio" "p50 ms admin/RBAC"
for what in get list; do
	[ $what = get ] && path=/api/v1/namespaces/$NS/pods/p0 || path=/api/v1/namespaces/$NS/pods
	ar=0 ur=0
	for r in $(seq "$ROUNDS"); do
		read -r a ap _ < <(run "admin-$what-$r" "$TOKEN" "$path")
		[ "$a" -gt "$ar" ] && ar=$a ap50=$ap
		read -r u up _ < <(run "user-$what-$r" "$USER_TOKEN" "$path")
		[ "$u" -gt "$ur" ] && ur=$u up50=$up
	done
	ratio=$(python3 -c "print(f'{100 * $ur / $ar:.0f} %')")
	printf '%-22s %12s %12s %7s   %s/%s\n' "$what pod$([ $what = list ] && echo 's (21)')" "$ar" "$ur" "$ratio" "$ap50" "$up50"
	bench_row rbac "$what pod requests/s, RBAC-bound user" "$ur" "/s" "$ar" "the admin token, same run" higher
done
echo "anchor: RBAC-authorized requests at >= 90 % of the admin token's rate (same server, same run,"
echo "        best of $ROUNDS alternating ${DURATION}s rounds; $NB other roles+bindings in the namespace)"
stop_server
