#!/bin/bash
# minik8s trace on a real one-node cluster (tests/lib/cluster.sh: `minik8s up` in a
# network namespace of its own, a runc pod of the lab's echo image, the real kubectl):
# `minik8s trace svc/web -o json` shows the service's DNS name with the answer the
# node's embedded DNS gives (its ClusterIP), the kernel's map svc element, and the
# endpoint with its pod, node and ready state; connections from the node to the
# ClusterIP make the endpoint's counter (the map ep element's counter, read over
# netlink) move by exactly their number, as `nft list map` agrees; the text view,
# a trace by pod name and by ClusterIP find the same service; an unknown service is
# kubectl's one-line NotFound and exit 1; --help is shown. The /ui/ page in a real
# headless chromium (tests/ui/trace_ui.js, playwright-core): served with a CSP, asks
# for the token once (sessionStorage, no cookies), draws the service and its
# endpoint, and the endpoint's counter rises after requests to the ClusterIP without
# a reload; a screenshot is saved under $T (its path printed).
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1 CL_ID=mktr$$ CL_NET=192.168.243
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail trace "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail trace "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail trace "build/minik8s missing"; exit 0; }

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
cluster_import 1 "$T/images/echo.tar" >"$T/import.log" 2>&1 || { fail image_import "$(tail -2 "$T/import.log")"; exit 0; }
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
pass "node up"

TR() { IN 1 timeout 30 "$MINIK8S" trace --kubeconfig "$CL_KUBECONFIG" "$@"; }

KC create deployment web --image=minik8s.local/echo:1 --replicas=1 --port=80 >/dev/null 2>&1 || fail "create deployment web"
KC expose deployment web --port=80 >/dev/null 2>&1 || fail "expose web"
# the page is driven in the background while the CLI is checked: a service of its
# own (same pod) keeps the counters of the two checks apart
KC expose deployment web --name=webui --port=80 >/dev/null 2>&1 || fail "expose webui"
WEB_IP=$(KC get service web -o json 2>/dev/null | jq -r .spec.clusterIP)
expect_match "service web has a ClusterIP" "$WEB_IP" '^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$'

# ---- the /ui/ page in Debian's chromium driven by playwright-core (tests/ui), started
# now in the background (the page waits for the pod itself) ----
UI=$ROOT/tests/ui
UI_PID=
if [ ! -d "$UI/node_modules/playwright-core" ]; then
	(cd "$UI" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 timeout 120 npm ci --no-audit --no-fund) >"$T/npm.log" 2>&1 ||
		fail "npm ci in tests/ui" "$(tail -2 "$T/npm.log")"
fi
if ! command -v chromium >/dev/null || ! command -v node >/dev/null; then
	fail "ui" "chromium or node missing (scripts/deps.sh test)"
else
	UI_IP=$(KC get service webui -o json 2>/dev/null | jq -r .spec.clusterIP)
	APIURL=$(grep -m1 'server:' "$CL_KUBECONFIG" | awk '{print $2}')
	IN 1 timeout 100 node "$UI/trace_ui.js" "$APIURL" "$(cl_data 1)/token" default/webui \
		"$UI_IP" "$T/trace-ui.png" >"$T/ui.out" 2>&1 &
	UI_PID=$!
	_PIDS+=("$UI_PID")
fi

# the trace shows a ready, programmed endpoint once the pod runs
J=
traced() {
	J=$(TR svc/web -o json 2>&1)
	[ "$(jq -r '.ports[0].endpoints[0] | "\(.ready) \(.programmed)"' <<<"$J" 2>/dev/null)" == "true true" ]
}
wait_until 1500 traced || fail "trace shows the endpoint" "$J"
POD=$(KC get pods -l app=web -o json 2>/dev/null | jq -r '.items[0].metadata.name')
POD_IP=$(KC get pods -l app=web -o json 2>/dev/null | jq -r '.items[0].status.podIP')
expect_eq "service and ClusterIP" "$(jq -r '"\(.service.namespace)/\(.service.name) \(.service.clusterIP)"' <<<"$J")" \
	"default/web $WEB_IP"
expect_eq "DNS name" "$(jq -r .dnsName <<<"$J")" "web.default.svc.cluster.local"
expect_eq "DNS answer of the node's embedded DNS: the ClusterIP" \
	"$(jq -r '"\(.dns.rcode) \(.dns.answers | join(",")) \(.dns.server) \(.dns.node)"' <<<"$J")" \
	"NOERROR $WEB_IP 10.96.0.10 node1"
expect_eq "node's table present" "$(jq -r '.nodes[] | "\(.name) \(.reachable) \(.tablePresent)"' <<<"$J")" "node1 true true"
expect_match "kernel: map svc element goes to an lb chain" \
	"$(jq -r '.ports[0].frontends[] | "\(.node) \(.chain)"' <<<"$J")" '^node1 lb'
expect_eq "endpoint: pod, node, ip:port" \
	"$(jq -r '.ports[0].endpoints[0] | "\(.pod) \(.node) \(.ip):\(.port)"' <<<"$J")" "$POD node1 $POD_IP:80"
expect_eq "networkPolicy hook" "$(jq -r .networkPolicy <<<"$J")" "not evaluated"

# connections from the node to the ClusterIP move the endpoint's counter
C0=$(jq -r '.ports[0].endpoints[0].connections' <<<"$J")
OK=0
for i in 1 2 3; do
	IN 1 curl -s -m 5 -o /dev/null "http://$WEB_IP/" && OK=$((OK + 1))
done
expect_eq "three requests to the ClusterIP answered" "$OK" 3
J=$(TR svc/web -o json 2>&1)
C1=$(jq -r '.ports[0].endpoints[0].connections' <<<"$J")
expect_eq "connections counter moved by 3" "$((C1 - C0))" 3
# nft's own view of the same element counter (text only to cross-check the netlink read)
NFT=$(IN 1 nft list map ip minik8s ep 2>&1 | tr -d '\n' | grep -o "$WEB_IP \. tcp \. 80 \. 0x[0-9a-f]* counter packets [0-9]*" | awk '{print $NF}')
expect_eq "nft list map agrees with the trace" "$NFT" "$C1"

OUT=$(TR svc/web 2>&1)
expect_match "text view: DNS line" "$OUT" "DNS     web\.default\.svc\.cluster\.local -> $WEB_IP \(NOERROR"
expect_match "text view: endpoint row" "$OUT" "$POD_IP:80 +$POD +node1 +true +yes +$C1 "
expect_match "text view: kernel line" "$OUT" "kernel node1: map svc  $WEB_IP \. TCP \. 80 : goto lb"
expect_eq "trace by pod name: both services" "$(TR "$POD" -o json 2>&1 | jq -r .service.name | sort | tr '\n' ' ')" "web webui "
expect_eq "trace by ClusterIP:port" "$(TR "$WEB_IP:80" -o json 2>&1 | jq -r .service.name)" web
expect_eq "trace by endpoint IP: both services" "$(TR "$POD_IP" -o json 2>&1 | jq -r .service.name | sort | tr '\n' ' ')" "web webui "

# --watch: one view at once, another when a connection moves the counter, exit 0 on ^C
# (timeout, bounded, passes the ^C on; nsenter execs minik8s: no shell in between)
timeout --preserve-status -s INT 30 nsenter "--net=/run/netns/$(cl_ns 1)" \
	"$MINIK8S" trace --kubeconfig "$CL_KUBECONFIG" svc/web --watch -o json >"$T/watch.out" 2>&1 &
WPID=$!
_PIDS+=("$WPID")
views() { jq -s length "$T/watch.out" 2>/dev/null || echo 0; }
first_view() { [ "$(views)" -ge 1 ]; }
second_view() { [ "$(views)" -ge 2 ]; }
wait_until 100 first_view || fail "watch: first view" "$(head -c 300 "$T/watch.out")"
IN 1 curl -s -m 5 -o /dev/null "http://$WEB_IP/"
wait_until 100 second_view || fail "watch: redrawn after a connection" "$(views) views"
kill -INT "$WPID" 2>/dev/null
wait "$WPID"; RC=$?
expect_eq "watch: ^C ends it with 0" "$RC" 0
expect_eq "watch: the counter moved by one between the views" \
	"$(jq -s '(.[-1].ports[0].endpoints[0].connections) - (.[0].ports[0].endpoints[0].connections)' "$T/watch.out" 2>&1)" 1

# the page is public, what it reads is not
APIURL=$(grep -m1 'server:' "$CL_KUBECONFIG" | awk '{print $2}')
expect_eq "/ui/ without a token: 200" "$(IN 1 curl -sk -o /dev/null -w '%{http_code}' "$APIURL/ui/")" 200
expect_eq "/ui/api/trace without a token: 401" \
	"$(IN 1 curl -sk -o /dev/null -w '%{http_code}' "$APIURL/ui/api/trace?namespace=default&service=web")" 401
expect_match "/ui/ has a Content-Security-Policy" "$(IN 1 curl -sk -D - -o /dev/null "$APIURL/ui/app.js")" \
	"Content-Security-Policy: default-src 'none'; script-src 'self'"

OUT=$(TR svc/nosuch 2>&1); RC=$?
expect_eq "unknown service: kubectl's one-line error" "$OUT" 'Error from server (NotFound): services "nosuch" not found'
expect_eq "unknown service: exit 1" "$RC" 1
OUT=$(TR deploy/web 2>&1); RC=$?
expect_eq "unknown target kind: usage exit 2" "$RC" 2
expect_match "--help" "$("$MINIK8S" trace --help 2>&1)" 'Usage: minik8s trace \(svc/NAME'

if [ -n "$UI_PID" ]; then
	wait "$UI_PID"
	while read -r line; do
		case "$line" in
		PASS:*) pass "${line#PASS: }" ;;
		FAIL:*) fail "${line#FAIL: }" ;;
		screenshot:*) echo "$line" ;;
		esac
	done <"$T/ui.out"
	grep -q '^PASS: ui page served' "$T/ui.out" || fail "ui run" "$(tail -3 "$T/ui.out")"
	expect_eq "ui: the endpoint drawn is the pod" "$(sed -n 's/^endpoint: //p' "$T/ui.out")" "$POD_IP:80"
fi

done_testing
