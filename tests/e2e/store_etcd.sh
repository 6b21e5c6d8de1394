#!/bin/bash
# minik8s server on etcd (--datastore-endpoint http(s)://...), with real kubectl:
# objects under kube-apiserver's keys with resourceVersion = etcd's mod_revision
# (read back with etcdctl), compare-and-swap conflicts, a second server on the same
# etcd that lists and watches what the first one writes, and TLS with a client
# certificate (--datastore-cafile/-certfile/-keyfile). etcd members are the test's
# own (tests/lib/etcd.sh), removed on exit.
. "$(dirname "$0")/../lib/lib.sh"
. "$ROOT/tests/lib/etcd.sh"
require_tools store-etcd kubectl curl etcd etcdctl jq
etcd_cluster_start 1 || { fail etcd-start "could not start etcd"; done_testing; exit 1; }

# srv NAME ENDPOINT [FLAGS...]: a server with data dir $T/NAME; writes $T/NAME.kubeconfig
# the servers of one datastore share the cluster token (the bootstrap data is sealed with it)
CLUSTER_TOKEN=store-test-token-$RANDOM$RANDOM
srv() {
	local name=$1 ep=$2 port i
	shift 2
	port=$(free_port)
	"$MINIK8S" server --data-dir "$T/$name" --bind-address 127.0.0.1 --https-listen-port "$port" \
		--write-kubeconfig "$T/$name.kubeconfig" --disable-agent \
		--token "$CLUSTER_TOKEN" --datastore-endpoint "$ep" "$@" >>"$T/$name.log" 2>&1 &
	local pid=$!
	_PIDS+=("$pid")
	for i in $(seq 300); do
		if [ -f "$T/$name.kubeconfig" ] &&
			curl -sf --cacert "$T/$name/tls/ca.crt" "https://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:"; tail -5 "$T/$name.log"
	return 1
}
ka() { kubectl --kubeconfig "$T/a.kubeconfig" --request-timeout=20s "$@"; }
kb() { kubectl --kubeconfig "$T/b.kubeconfig" --request-timeout=20s "$@"; }
ectl() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --command-timeout 10s "$@"; }
wait_file() {
	local i
	for i in $(seq 200); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}

srv a "$ETCD_ENDPOINTS" || { fail server-a-start "see log"; done_testing; exit 1; }
pass server-a-on-etcd

out=$(ka create configmap cm1 --from-literal=k=v1 2>&1)
expect_match create "$out" "configmap/cm1 created"
rv1=$(ka get configmap cm1 -o jsonpath='{.metadata.resourceVersion}')
# in etcd: kube-apiserver's key, the object without its resourceVersion, whose
# mod_revision is the resourceVersion the API gave
kv=$(ectl get /registry/configmaps/default/cm1 -w json)
expect_eq etcd-mod-revision "$(jq -r '.kvs[0].mod_revision' <<<"$kv")" "$rv1"
val=$(jq -r '.kvs[0].value' <<<"$kv" | base64 -d)
expect_eq etcd-value "$(jq -r '.data.k' <<<"$val")" "v1"
expect_eq etcd-value-without-rv "$(jq -r '.metadata.resourceVersion // "none"' <<<"$val")" "none"
expect_eq service-key-layout "$(ectl get --prefix /registry/services/specs/default/kubernetes --keys-only | grep -c kubernetes)" "1"

ka get configmaps --watch -o jsonpath='{.metadata.name}={.data.k}{"\n"}' >"$T/watch-a" 2>&1 &
_PIDS+=("$!")
wait_file "$T/watch-a" '^cm1=v1$' || fail watch-a-initial "$(cat "$T/watch-a")"
ka patch configmap cm1 -p '{"data":{"k":"v2"}}' >/dev/null 2>&1
rv2=$(ka get configmap cm1 -o jsonpath='{.metadata.resourceVersion}')
if [ -n "$rv1" ] && [ -n "$rv2" ] && [ "$rv2" -gt "$rv1" ]; then
	pass "update-new-revision ($rv1 -> $rv2)"
else
	fail update-new-revision "resourceVersion $rv1 -> $rv2"
fi
if wait_file "$T/watch-a" '^cm1=v2$'; then pass watch-sees-update; else fail watch-sees-update "$(cat "$T/watch-a")"; fi
out=$(ka replace -f - 2>&1 <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: cm1, namespace: default, resourceVersion: "$rv1"}
data: {k: stale}
EOF
)
expect_match stale-update-conflict "$out" "Conflict|modified"

# a second server on the same etcd: lists a's objects, its watch sees a's writes
srv b "$ETCD_ENDPOINTS" || { fail server-b-start "see log"; done_testing; exit 1; }
expect_eq b-gets-a-write "$(kb get configmap cm1 -o jsonpath='{.data.k}' 2>&1)" "v2"
kb get configmaps --watch-only -o jsonpath='{.metadata.name}={.data.k}{"\n"}' >"$T/watch-b" 2>&1 &
_PIDS+=("$!")
sleep 1
ka create configmap cm2 --from-literal=k=from-a >/dev/null 2>&1
if wait_file "$T/watch-b" '^cm2=from-a$'; then pass b-watch-sees-a-write; else fail b-watch-sees-a-write "$(cat "$T/watch-b")"; fi
ka delete configmap cm1 >/dev/null 2>&1
expect_match b-sees-delete "$(kb get configmap cm1 2>&1)" "NotFound|not found"

# TLS: a member that wants a client certificate
stop_all
ETCD_URLS=() ETCD_PIDS=() ETCD_PEERS=()
rm -rf "$T/etcd"
ETCD_TLS=1
etcd_cluster_start 1 || { fail etcd-tls-start "could not start etcd"; done_testing; exit 1; }
if srv t "$ETCD_ENDPOINTS" --datastore-cafile "$ETCD_CA" --datastore-certfile "$ETCD_CERT" \
	--datastore-keyfile "$ETCD_KEY"; then
	pass server-on-etcd-tls
	out=$(kubectl --kubeconfig "$T/t.kubeconfig" --request-timeout=20s create configmap tls1 --from-literal=k=v 2>&1)
	expect_match tls-create "$out" "configmap/tls1 created"
else
	fail server-on-etcd-tls "see $T/t.log"
fi
# without the client certificate the server does not start
"$MINIK8S" server --data-dir "$T/n" --bind-address 127.0.0.1 --https-listen-port "$(free_port)" \
	--write-kubeconfig "$T/n.kubeconfig" --disable-agent --datastore-endpoint "$ETCD_ENDPOINTS" \
	--datastore-cafile "$ETCD_CA" >"$T/n.log" 2>&1 &
npid=$!
_PIDS+=("$npid")
for _ in $(seq 300); do kill -0 "$npid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$npid" 2>/dev/null; then
	fail tls-without-cert-refused "server still running"
else
	wait "$npid"
	rc=$?
	if [ "$rc" -ne 0 ] && grep -q etcd "$T/n.log"; then pass tls-without-cert-refused
	else fail tls-without-cert-refused "exit $rc: $(tail -3 "$T/n.log")"; fi
fi
done_testing
