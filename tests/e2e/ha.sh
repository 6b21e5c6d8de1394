#!/bin/bash
# Several servers on one datastore (etcd, one member of the test's own): the first
# server seals the cluster's identity (CA, tokens, service-account key) into etcd with
# the cluster token and the others load it, so server A's kubeconfig works against
# B and C; a wrong token refuses to start; one leader runs the controllers and the
# scheduler, and after kill -9 of it another takes the Lease; a hollow node agent with
# --server A,B,C moves to the next server when A dies, and a pod created through B is
# scheduled and runs on it; `minik8s status` shows the datastore and the leader.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/etcd.sh"
require_tools ha kubectl curl etcd jq
etcd_cluster_start 1 || { fail etcd-start "could not start etcd"; done_testing; exit 1; }
TOKEN=ha-cluster-token-$RANDOM$RANDOM

declare -A PID PORT ADDR
# srv NAME ADDR [FLAGS...]: a server with data dir $T/NAME on ADDR (127.0.0.x)
srv() {
	local name=$1 addr=$2 i
	shift 2
	PORT[$name]=$(free_port) ADDR[$name]=$addr
	"$MINIK8S" server --data-dir "$T/$name" --bind-address "$addr" \
		--https-listen-port "${PORT[$name]}" --write-kubeconfig "$T/$name.kubeconfig" \
		--disable-agent --datastore-endpoint "$ETCD_ENDPOINTS" -v 4 "$@" >>"$T/$name.log" 2>&1 &
	PID[$name]=$!
	_PIDS+=("$!")
	for i in $(seq 600); do
		if [ -f "$T/$name/server-info.json" ] &&
			curl -sf -m 5 --cacert "$T/$name/tls/ca.crt" "$(url "$name")/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "${PID[$name]}" 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:"; tail -5 "$T/$name.log"
	return 1
}
url() { echo "https://${ADDR[$1]}:${PORT[$1]}"; }
# ka SERVER ARGS: kubectl with server a's kubeconfig (its CA, its admin token) against SERVER
ka() { local s=$1; shift; kubectl --kubeconfig "$T/a.kubeconfig" --server "$(url "$s")" --request-timeout=20s "$@"; }
identity() { jq -r .identity "$T/$1/server-info.json"; }
holder() { ka "$1" get lease -n kube-system kube-controller-manager -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

srv a 127.0.0.1 --token "$TOKEN" || { fail server-a-start "see log"; done_testing; exit 1; }
srv b 127.0.0.2 --token "$TOKEN" || { fail server-b-start "see log"; done_testing; exit 1; }
srv c 127.0.0.3 --token "$TOKEN" --tls-san api.ha.test,10.9.9.9 || { fail server-c-start "see log"; done_testing; exit 1; }
pass "three servers on one etcd"

# one cluster identity: the same CA and admin token everywhere, each server's own
# serving certificate (signed by that CA, naming its own address)
check "same CA on a, b, c" cmp -s "$T/a/tls/ca.crt" "$T/b/tls/ca.crt"
check "same CA on a, c" cmp -s "$T/a/tls/ca.crt" "$T/c/tls/ca.crt"
check "same admin token" cmp -s "$T/a/token" "$T/c/token"
check "same node-token (join token with the CA hash)" cmp -s "$T/a/node-token" "$T/b/node-token"
if ! cmp -s "$T/b/tls/server.crt" "$T/c/tls/server.crt" &&
	openssl verify -CAfile "$T/a/tls/ca.crt" "$T/c/tls/server.crt" >/dev/null 2>&1; then
	pass "c's own serving certificate, signed by the cluster CA"
else
	fail "c's own serving certificate, signed by the cluster CA"
fi
expect_match "c's certificate names 127.0.0.3" \
	"$(openssl x509 -in "$T/c/tls/server.crt" -noout -ext subjectAltName 2>&1)" "IP Address:127.0.0.3"
expect_match "c's certificate names the servers registered before it" \
	"$(openssl x509 -in "$T/c/tls/server.crt" -noout -ext subjectAltName 2>&1)" "IP Address:127.0.0.1.*IP Address:127.0.0.2|IP Address:127.0.0.2.*IP Address:127.0.0.1"
san=$(openssl x509 -in "$T/c/tls/server.crt" -noout -ext subjectAltName 2>&1)
expect_match "--tls-san as a comma list: a name" "$san" "DNS:api\.ha\.test"
expect_match "--tls-san as a comma list: an address" "$san" "IP Address:10\.9\.9\.9"
# one Lease per server; the kubernetes Endpoints list every live server
eps() { ka "$1" get endpoints kubernetes -o json 2>/dev/null | jq -c '[.subsets[]? | .addresses[].ip + ":" + (.ports[0].port | tostring)] | sort'; }
want=$(printf '%s\n' "127.0.0.1:${PORT[a]}" "127.0.0.2:${PORT[b]}" "127.0.0.3:${PORT[c]}" | jq -Rsc 'split("\n") | map(select(. != "")) | sort')
eps_all() { [ "$(eps a)" == "$want" ]; }
check "kubernetes Endpoints list the three servers" wait_until 300 eps_all
expect_eq "three server Leases" \
	"$(ka a get lease -n kube-system -l apiserver.kubernetes.io/identity=kube-apiserver -o name | wc -l)" 3
expect_match "kubectl with a's kubeconfig against b" "$(ka b create configmap ha1 --from-literal=k=v 2>&1)" \
	"configmap/ha1 created"
expect_eq "... and against c (b's write)" "$(ka c get configmap ha1 -o jsonpath='{.data.k}' 2>&1)" v
# the bootstrap data in etcd is sealed: no key material in the clear
raw=$(ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" get --prefix /registry/minik8s-bootstrap 2>&1)
if [ -n "$raw" ] && ! grep -q "PRIVATE KEY" <<<"$raw" && ! grep -qF "$TOKEN" <<<"$raw"; then
	pass "bootstrap data in etcd is sealed"
else
	fail "bootstrap data in etcd is sealed" "$(head -c 300 <<<"$raw")"
fi

# a wrong token: a one-line error, no new CA
out=$(timeout 60 "$MINIK8S" server --data-dir "$T/d" --bind-address 127.0.0.4 --https-listen-port "$(free_port)" \
	--write-kubeconfig "$T/d.kubeconfig" --disable-agent --datastore-endpoint "$ETCD_ENDPOINTS" \
	--token wrong-token-0123456789 2>&1); rc=$?
check "wrong token: refuses to start (rc $rc)" num_cmp "$rc" "==" 1
expect_match "wrong token: says why" "$out" "sealed with another token"
check "wrong token: no CA made" test ! -e "$T/d/tls/ca.crt"
out=$(timeout 60 "$MINIK8S" server --data-dir "$T/e" --bind-address 127.0.0.4 --https-listen-port "$(free_port)" \
	--write-kubeconfig "$T/e.kubeconfig" --disable-agent --datastore-endpoint "$ETCD_ENDPOINTS" 2>&1); rc=$?
expect_match "no token: refuses to start" "$rc $out" "^1 .*--token"

# one leader among the three
leader_known() { L=$(holder b) && [ -n "$L" ]; }
check "a leader holds the Lease" wait_until 300 leader_known
n=0
for s in a b c; do [ "$(identity "$s")" == "$L" ] && n=$((n + 1)) && LS=$s; done
expect_eq "the leader is one of the three servers" "$n" 1
# the servers running controllers now: their last leader-election line is an acquisition
n=0
for s in a b c; do
	last=$(grep -E "successfully acquired lease kube-system/kube-controller-manager|stopped leading" \
		"$T/$s.log" | tail -1)
	[[ "$last" == *"successfully acquired"* ]] && n=$((n + 1))
done
expect_eq "only one server runs the controllers" "$n" 1
st=$("$MINIK8S" status --data-dir "$T/b" --kubeconfig "$T/b.kubeconfig" 2>&1)
expect_match "status: datastore" "$st" "datastore: +etcd http://127\.0\.0\.1:[0-9]+"
expect_match "status: this server" "$st" "server: +https://127\.0\.0\.2:${PORT[b]} \(identity $(identity b)\)"
expect_match "status: leader" "$st" "leader: +$L"

# a hollow node with every server; its first server is the leader, killed below
list="$(url "$LS")"
for s in a b c; do [ "$s" != "$LS" ] && list="$list,$(url "$s")"; done
"$MINIK8S" agent --server "$list" --token "$(cat "$T/b/node-token")" --data-dir "$T/agent" \
	--node-status-update-frequency 1s --hollow 1 >>"$T/agent.log" 2>&1 &
_PIDS+=("$!")
node_ready() {
	[ "$(ka b get node hollow-0 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]
}
check "hollow node Ready through $LS" wait_until 600 node_ready

kill -9 "${PID[$LS]}"
wait "${PID[$LS]}" 2>/dev/null
OTHER=b
[ "$LS" == b ] && OTHER=c
moved() { L2=$(holder "$OTHER") && [ -n "$L2" ] && [ "$L2" != "$L" ]; }
check "the Lease moves to another server after kill -9 of $LS" wait_until 600 moved
n=0
for s in a b c; do [ "$s" != "$LS" ] && [ "$(identity "$s")" == "$L2" ] && n=$((n + 1)); done
expect_eq "the new leader is a live server" "$n" 1
# without --kubeconfig: the server's own (its --write-kubeconfig)
st=$("$MINIK8S" status --data-dir "$T/$OTHER" 2>&1)
expect_match "status: the new leader" "$st" "leader: +$L2"
expect_match "status: the nodes through the server's kubeconfig" "$st" "node hollow-0 +Ready"
want=$(for s in a b c; do [ "$s" != "$LS" ] && echo "${ADDR[$s]}:${PORT[$s]}"; done | jq -Rsc 'split("\n") | map(select(. != "")) | sort')
eps_live() { [ "$(eps "$OTHER")" == "$want" ]; }
check "the killed server's address leaves the kubernetes Endpoints" wait_until 600 eps_live

cat <<EOF | ka "$OTHER" apply -f - >/dev/null 2>&1
apiVersion: v1
kind: Pod
metadata: {name: after-failover, namespace: default}
spec: {containers: [{name: c, image: busybox}]}
EOF
running() { [ "$(ka "$OTHER" get pod after-failover -o jsonpath='{.spec.nodeName}/{.status.phase}' 2>/dev/null)" == hollow-0/Running ]; }
check "a pod created through $OTHER is scheduled and runs on the failed-over node" wait_until 900 running
expect_match "the agent moved to the next server" "$(cat "$T/agent.log")" "unreachable: now using https://"
check "the node stays Ready" node_ready
# the request logs (-v 4) of the servers the agent moved to: its requests arrive
# there, and its pod informer resumed its watch from the last resourceVersion, no list
others=$(for s in a b c; do [ "$s" != "$LS" ] && grep -h 'user=system:node:hollow-0' "$T/$s.log"; done)
check "the agent's requests reach the other servers" num_cmp "$(grep -c . <<<"$others")" ">" 0
expect_eq "no relist of the agent's pods after the failover" \
	"$(grep 'URI="/api/v1/pods?' <<<"$others" | grep -vc 'watch=true')" 0

done_testing
