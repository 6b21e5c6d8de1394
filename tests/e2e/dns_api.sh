#!/bin/bash
# End-to-end: the DNS runner (mk_dns_start) fed by informers from a real minik8s
# API server. Services and Endpoints are created, changed and deleted through
# the API; dig sees every change (the zone follows the watch incrementally).
. "$(dirname "$0")/../lib/lib.sh"
SERVE=$ROOT/build/bench/dns/dns_serve
[ -x "$SERVE" ] || { fail dns_api_build "missing $SERVE (make all)"; exit 1; }
[ -x "$MINIK8S" ] || { fail dns_api_build "missing $MINIK8S (make all)"; exit 1; }
curl_max_time 20
start_server || { fail dns_api_server "server did not start"; exit 1; }

api_json POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}}'
expect_code dns_api_namespace 201

"$SERVE" --kubeconfig "$KUBECONFIG" --listen 127.0.0.1 --port 0 --workers 1 \
	--ready-file "$T/dns.port" 2>"$T/dns.log" &
_PIDS+=($!)
wait_until 100 test -s "$T/dns.port" || { fail dns_api_start "runner did not start: $(cat "$T/dns.log")"; exit 1; }
P=$(cat "$T/dns.port")
D() { dig @127.0.0.1 -p "$P" +time=2 +tries=1 "$@" 2>&1; }
status() { D "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
short_is() { [ "$(D +short "$1")" == "$2" ]; }
status_is() { [ "$(status "$1")" == "$2" ]; }

# step 1 of the walkthrough: before expose, NXDOMAIN
expect_eq dns_api_before_expose "$(status php-echo.demo.svc.cluster.local)" "NXDOMAIN"

api_json POST /api/v1/namespaces/demo/services '{"apiVersion":"v1","kind":"Service",
 "metadata":{"name":"php-echo","namespace":"demo"},
 "spec":{"type":"ClusterIP","selector":{"app":"php-echo"},
         "ports":[{"name":"http","port":80,"protocol":"TCP","targetPort":80}]}}'
expect_code dns_api_create_service 201
CIP=$(jqb .spec.clusterIP)
expect_match dns_api_cluster_ip "$CIP" '^10\.[0-9]+\.[0-9]+\.[0-9]+$'
if wait_until 50 short_is php-echo.demo.svc.cluster.local "$CIP"; then pass dns_api_a_after_expose
else fail dns_api_a_after_expose "got '$(D +short php-echo.demo.svc.cluster.local)', want $CIP"; fi
expect_eq dns_api_srv "$(D +short SRV _http._tcp.php-echo.demo.svc.cluster.local)" "0 100 80 php-echo.demo.svc.cluster.local."
IFS=. read -r a b c d <<<"$CIP"
expect_eq dns_api_ptr "$(D +short PTR "$d.$c.$b.$a.in-addr.arpa")" "php-echo.demo.svc.cluster.local."

# headless service + endpoints written through the API
api_json POST /api/v1/namespaces/demo/services '{"apiVersion":"v1","kind":"Service",
 "metadata":{"name":"db","namespace":"demo"},"spec":{"clusterIP":"None","ports":[{"name":"pg","port":5432}]}}'
expect_code dns_api_create_headless 201
api_json POST /api/v1/namespaces/demo/endpoints '{"apiVersion":"v1","kind":"Endpoints",
 "metadata":{"name":"db","namespace":"demo"},
 "subsets":[{"addresses":[{"ip":"10.244.1.10","hostname":"db-0"},{"ip":"10.244.2.11","hostname":"db-1"}],
             "ports":[{"name":"pg","port":5432,"protocol":"TCP"}]}]}'
expect_code dns_api_create_endpoints 201
db_both() { [ "$(D +short db.demo.svc.cluster.local | sort | tr '\n' ' ')" == "10.244.1.10 10.244.2.11 " ]; }
check dns_api_headless wait_until 50 db_both
if wait_until 50 short_is db-1.db.demo.svc.cluster.local 10.244.2.11; then pass dns_api_headless_host
else fail dns_api_headless_host "got '$(D +short db-1.db.demo.svc.cluster.local)'"; fi

# scale down: one endpoint goes, its name goes with it
api_json PUT /api/v1/namespaces/demo/endpoints/db '{"apiVersion":"v1","kind":"Endpoints",
 "metadata":{"name":"db","namespace":"demo"},
 "subsets":[{"addresses":[{"ip":"10.244.1.10","hostname":"db-0"}],"ports":[{"name":"pg","port":5432}]}]}'
expect_code dns_api_update_endpoints 200
check dns_api_scale_down wait_until 50 short_is db.demo.svc.cluster.local 10.244.1.10
check dns_api_scale_down_name wait_until 50 status_is db-1.db.demo.svc.cluster.local NXDOMAIN

# delete: NXDOMAIN again
api DELETE /api/v1/namespaces/demo/services/php-echo
expect_code dns_api_delete_service 200
check dns_api_nxdomain_after_delete wait_until 50 status_is php-echo.demo.svc.cluster.local NXDOMAIN
done_testing
exit 0
