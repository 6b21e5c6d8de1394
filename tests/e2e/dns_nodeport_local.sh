#!/bin/bash
# On a real one-node cluster (tests/lib/cluster.sh: `minik8s up` in a network
# namespace of its own, runc pods of the lab's echo image, the real kubectl):
#  - ExternalName answers as CoreDNS gives them, dig against the node's embedded DNS
#    (10.96.0.10 inside the node's namespace): a target that is a cluster name comes
#    with its A record after the CNAME (also through a chain of two ExternalNames,
#    and for a headless target every address); a target outside the cluster gets the
#    CNAME alone; CNAME queries get the CNAME alone.
#  - a NodePort on the node's own 127.0.0.1 is accepted, as kube-proxy's iptables
#    mode does (route_localnet on in the node's namespace only, replies come back
#    through the masquerade), while 127.0.0.1 on a port that is no NodePort is still
#    refused and the NodePort keeps answering on the node's address.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1 CL_ID=mkdn$$ CL_NET=192.168.242
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail dns_nodeport_local "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft dig "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail dns_nodeport_local "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail dns_nodeport_local "build/minik8s missing"; exit 0; }
ROOT_LOCALNET=$(cat /proc/sys/net/ipv4/conf/all/route_localnet)

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
cluster_import 1 "$T/images/echo.tar" >"$T/import.log" 2>&1 || { fail image_import "$(tail -2 "$T/import.log")"; exit 0; }
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
pass "node up"

# ---- ExternalName ----
KC create service clusterip web --tcp=80:80 >/dev/null 2>&1 || fail "create service web"
WEB_IP=$(KC get service web -o json 2>/dev/null | jq -r .spec.clusterIP)
KC create service externalname alias --external-name web.default.svc.cluster.local >/dev/null 2>&1 || fail "create alias"
KC create service externalname alias2 --external-name alias.default.svc.cluster.local >/dev/null 2>&1 || fail "create alias2"
KC create service externalname ext --external-name www.example.org >/dev/null 2>&1 || fail "create ext"
# a headless service without selector, with two addresses (Endpoints written by hand)
KC apply -f - >/dev/null 2>&1 <<'EOF' || fail "create headless db"
apiVersion: v1
kind: Service
metadata: {name: db}
spec: {clusterIP: None, ports: [{port: 5432}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: db}
subsets: [{addresses: [{ip: 10.244.0.201}, {ip: 10.244.0.202}], ports: [{port: 5432}]}]
EOF
KC create service externalname dbalias --external-name db.default.svc.cluster.local >/dev/null 2>&1 || fail "create dbalias"
# answer NAME [TYPE]: the answer section as "owner type data" lines, sorted
answer() { IN 1 dig @10.96.0.10 +time=2 +tries=2 +noall +answer "$1" "${2:-A}" 2>&1 | awk '{print $1, $4, $5}' | sort; }
ready() { [ -n "$(answer dbalias.default.svc.cluster.local | grep ' A ')" ]; }
wait_until 100 ready
expect_eq externalname_cluster_target_cname_plus_a "$(answer alias.default.svc.cluster.local | tr '\n' '|')" \
	"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.|web.default.svc.cluster.local. A $WEB_IP|"
expect_eq externalname_chain "$(answer alias2.default.svc.cluster.local | tr '\n' '|')" \
	"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.|alias2.default.svc.cluster.local. CNAME alias.default.svc.cluster.local.|web.default.svc.cluster.local. A $WEB_IP|"
expect_eq externalname_headless_target "$(answer dbalias.default.svc.cluster.local | tr '\n' '|')" \
	"db.default.svc.cluster.local. A 10.244.0.201|db.default.svc.cluster.local. A 10.244.0.202|dbalias.default.svc.cluster.local. CNAME db.default.svc.cluster.local.|"
expect_eq externalname_outside_target_cname_only "$(answer ext.default.svc.cluster.local | tr '\n' '|')" \
	"ext.default.svc.cluster.local. CNAME www.example.org.|"
expect_eq externalname_cname_query "$(answer alias.default.svc.cluster.local CNAME | tr '\n' '|')" \
	"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.|"
expect_eq externalname_aaaa_query_cname_only "$(answer alias.default.svc.cluster.local AAAA | tr '\n' '|')" \
	"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.|"
# what a stub resolver reads: the CNAME, then the address, from one answer
expect_eq externalname_short "$(IN 1 dig @10.96.0.10 +short alias.default.svc.cluster.local | tr '\n' ' ')" \
	"web.default.svc.cluster.local. $WEB_IP "

# ---- NodePort on 127.0.0.1 ----
KC create deployment np --image=minik8s.local/echo:1 --replicas=2 --port=80 >/dev/null 2>&1 || fail "create deployment np"
KC expose deployment np --type=NodePort --port=80 >/dev/null 2>&1 || fail "expose np"
NP=$(KC get service np -o json 2>/dev/null | jq -r '.spec.ports[0].nodePort')
expect_match nodeport_allocated "$NP" '^3[0-9]{4}$'
eps() { [ "$(KC get endpoints np -o json 2>/dev/null | jq '[.subsets[]?.addresses[]?] | length')" == 2 ]; }
wait_until 1500 eps || fail "np endpoints" "$(KC get pods -o wide 2>&1)"
get_local() { IN 1 curl -s -m 3 "http://127.0.0.1:$NP/"; }
wait_until 50 get_local >/dev/null
out=$(for i in $(seq 20); do IN 1 curl -s -m 3 "http://127.0.0.1:$NP/"; echo; done)
expect_eq nodeport_127_0_0_1_all_answered "$(grep -c '^node=' <<<"$out")" 20
# 20 requests missing one of 2 replicas by chance: p = 2 * 2^-20
expect_eq nodeport_127_0_0_1_both_replicas "$(grep -o 'pod=[0-9.]*' <<<"$out" | sort -u | wc -l)" 2
expect_match nodeport_node_ip_still "$(IN 1 curl -s -m 3 "http://$(cl_ip 1):$NP/")" '^node='
expect_match nodeport_from_outside_node "$(ip netns exec "$CL_SW" curl -s -m 3 "http://$(cl_ip 1):$NP/")" '^node='
IN 1 curl -s -m 3 -o /dev/null "http://127.0.0.1:$((NP == 32767 ? 32766 : NP + 1))/"
expect_eq loopback_other_port_refused "$?" 7
expect_eq route_localnet_on_in_node "$(IN 1 cat /proc/sys/net/ipv4/conf/all/route_localnet)" 1
expect_eq route_localnet_root_untouched "$(cat /proc/sys/net/ipv4/conf/all/route_localnet)" "$ROOT_LOCALNET"
# the rule lives in the node's own output chain
expect_match nft_output_rule "$(IN 1 nft list chain ip minik8s output 2>&1)" 'ip daddr 127\.0\.0\.0/8 .*vmap @np'
done_testing
