#!/bin/bash
# Port-forward and the proxy subresources end to end, on a real one-node cluster
# (tests/lib/cluster.sh with CL_NODES=1: `minik8s up` in a network namespace of this
# test, runc pods from the lab images of examples/images/build.sh). Every client
# runs inside that namespace.
#
#  - the real kubectl port-forward (WebSocket-tunnelled SPDY): pod/NAME and
#    svc/NAME, a 300 KB body twice concurrently through one forward, an upload, a
#    port nothing listens on (kubelet's error on the error stream, kubectl gives
#    up); and once over kubectl's plain SPDY/3.1 upgrade (its fallback);
#  - the Python client (Debian python3-kubernetes, WebSocket v4.channel.k8s.io):
#    two ports in one session, and the error channel for a refused port;
#  - the proxy subresources: `kubectl proxy` + curl through services/NAME:PORT/proxy
#    and pods/NAME[:PORT]/proxy, `kubectl get --raw` through the service proxy,
#    the method and status passing through, 301 for an empty path, 404/503 Status
#    errors for a missing service, pod, port or endpoint.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1
CL_ID=mkpf$$
CL_NET=192.168.241
. "$ROOT/tests/lib/cluster.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then fail portforward_proxy "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter "$KUBECTL" "$PY"; do
	command -v "$tool" >/dev/null || { fail portforward_proxy "$tool missing (scripts/deps.sh)"; exit 0; }
done
"$PY" -c 'import kubernetes.stream' 2>/dev/null ||
	{ fail portforward_proxy "python3-kubernetes missing (scripts/deps.sh test)"; exit 0; }
curl_max_time 20
exec 3>&2
show_logs() {
	[ "$FAILED" = 1 ] || [ -n "${PF_E2E_LOGS:-}" ] || return 0
	tail -n 30 "$T/up1.out" >&3 2>/dev/null
	tail -n 40 "$(cl_data 1)/minik8s.log" >&3 2>/dev/null
}
on_exit show_logs
wait_for() { local n=$1 i; shift; for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.2; done; return 1; }
# background processes inside the node: their pids are ours to kill
BG=()
bg_in() { IN 1 "$@" & BG+=("$!"); }
kill_bg() { local p; for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; BG=(); }
on_exit kill_bg
H=$T/home
mkdir -p "$H"
KK() { IN 1 env HOME="$H" timeout 60 "$KUBECTL" --kubeconfig "$CL_KUBECONFIG" "$@"; }
CURL() { IN 1 curl -s "$@"; }

# ---- the cluster ----
if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
cluster_import 1 "$T/images/echo.tar" "$T/images/jumpbox.tar" >"$T/import.log" 2>&1 ||
	fail "image import" "$(tail -2 "$T/import.log")"
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
node_ready() { [ "$(KK get node node1 -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; }
wait_for 300 node_ready || { fail "node Ready" "$(KK get nodes 2>&1)"; exit 0; }

# web: busybox httpd on 80 (index, a 300 KB file) and on 8080 (another index)
KK apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: minik8s.local/jumpbox:1
    imagePullPolicy: IfNotPresent
    ports: [{containerPort: 80, name: http}]
    command: ["/bin/sh", "-c", "mkdir -p /w80/sub /w8080 && echo hello-from-web >/w80/index.html && echo second-port >/w8080/index.html && head -c 300000 /dev/urandom >/w80/big.bin && httpd -p 8080 -h /w8080 && exec httpd -f -p 80 -h /w80"]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
spec:
  replicas: 1
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      containers:
      - name: echo
        image: minik8s.local/echo:1
        imagePullPolicy: IfNotPresent
        ports: [{containerPort: 80}]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        readinessProbe:
          httpGet: {path: /, port: 80}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  selector: {app: echo}
  ports: [{name: http, port: 80, targetPort: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: nobody
spec:
  selector: {app: nobody}
  ports: [{port: 80}]
EOF
pods_ready() {
	[ "$(KK get pods -o json 2>/dev/null | jq '[.items[] | select(.status.conditions // [] | any(.type=="Ready" and .status=="True"))] | length')" = 2 ]
}
wait_for 300 pods_ready || { fail "pods Ready" "$(KK get pods -o wide 2>&1)"; exit 0; }
eps_ready() { [ -n "$(KK get endpoints echo -o jsonpath='{.subsets[0].addresses[0].ip}' 2>/dev/null)" ]; }
wait_for 150 eps_ready || fail "echo endpoints" "$(KK get endpoints echo -o yaml 2>&1)"
ECHO_POD=$(KK get pods -l app=echo -o jsonpath='{.items[0].metadata.name}')
BIG_SUM=$(KK exec web -- md5sum /w80/big.bin | cut -d' ' -f1)

# ---- kubectl port-forward ----
# start_pf NAME LOCALPORT ARGS...: kubectl port-forward in the background, waits for
# its "Forwarding from" line
start_pf() {
	local name=$1 lp=$2; shift 2
	bg_in env HOME="$H" KUBECTL_PORT_FORWARD_WEBSOCKETS="${KUBECTL_PORT_FORWARD_WEBSOCKETS:-true}" \
		timeout 120 "$KUBECTL" --kubeconfig "$CL_KUBECONFIG" port-forward \
		--address 127.0.0.1 "$@" >"$T/pf.$name.out" 2>"$T/pf.$name.err"
	PF_PID=${BG[-1]}
	wait_for 100 grep -q "Forwarding from 127.0.0.1:$lp" "$T/pf.$name.out"
}

LP=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
LPB=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if start_pf pod "$LP" pod/web "$LP:80" "$LPB:8080"; then
	expect_eq "kubectl port-forward pod/web: GET /" "$(CURL "http://127.0.0.1:$LP/")" hello-from-web
	expect_eq "kubectl port-forward pod/web, second port of the same forward" \
		"$(CURL "http://127.0.0.1:$LPB/")" second-port
	# two downloads at once through the same forward (two stream pairs)
	IN 1 curl -s -o "$T/big1" "http://127.0.0.1:$LP/big.bin" & c1=$!
	IN 1 curl -s -o "$T/big2" "http://127.0.0.1:$LP/big.bin" & c2=$!
	wait $c1; r1=$?
	wait $c2; r2=$?
	expect_eq "kubectl port-forward: two concurrent 300 KB downloads" \
		"$r1 $r2 $(md5sum <"$T/big1" | cut -d' ' -f1) $(md5sum <"$T/big2" | cut -d' ' -f1)" \
		"0 0 $BIG_SUM $BIG_SUM"
	# a request body (busybox httpd answers 501 to POST without CGI: the bytes went in)
	code=$(CURL -o /dev/null -w '%{http_code}' --data-binary @"$T/big1" "http://127.0.0.1:$LP/")
	expect_match "kubectl port-forward: 300 KB upload answered" "$code" '^[2-5][0-9][0-9]$'
	expect_eq "kubectl port-forward: still serving after 4 connections" "$(CURL "http://127.0.0.1:$LP/")" hello-from-web
	# past kubectl's 10 s SPDY ping period: the pings are answered, the session lives
	sleep 11
	expect_eq "kubectl port-forward: alive after an idle ping period" "$(CURL "http://127.0.0.1:$LP/")" hello-from-web
else
	fail "kubectl port-forward pod/web" "$(cat "$T/pf.pod.err")"
fi
kill_bg

LP2=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if start_pf svc "$LP2" svc/echo "$LP2:80"; then
	expect_match "kubectl port-forward svc/echo: GET /" "$(CURL "http://127.0.0.1:$LP2/")" "name=$ECHO_POD"
else
	fail "kubectl port-forward svc/echo" "$(cat "$T/pf.svc.err")"
fi
kill_bg

# kubectl's plain SPDY/3.1 upgrade (its fallback, forced here), relayed untouched
LP4=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if KUBECTL_PORT_FORWARD_WEBSOCKETS=false start_pf spdy "$LP4" pod/web "$LP4:80"; then
	expect_eq "kubectl port-forward over plain SPDY: GET /" "$(CURL "http://127.0.0.1:$LP4/")" hello-from-web
	IN 1 curl -s -o "$T/big4" "http://127.0.0.1:$LP4/big.bin"
	expect_eq "kubectl port-forward over plain SPDY: 300 KB" "$(md5sum <"$T/big4" | cut -d' ' -f1)" "$BIG_SUM"
else
	fail "kubectl port-forward over plain SPDY" "$(cat "$T/pf.spdy.err")"
fi
kill_bg

# nothing listens on 81: kubelet's error reaches kubectl, which gives up the forward
LP3=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if start_pf refused "$LP3" pod/web "$LP3:81"; then
	code=$(CURL -o /dev/null -w '%{http_code}' "http://127.0.0.1:$LP3/")
	expect_eq "kubectl port-forward to a closed port: no HTTP answer" "$code" 000
	wait_for 50 grep -q "connection refused" "$T/pf.refused.err"
	expect_match "kubectl port-forward to a closed port: kubelet's error" "$(cat "$T/pf.refused.err")" \
		'error forwarding port 81 to pod [0-9a-f-]+, uid : .*dial tcp4 127.0.0.1:81: connect: connection refused'
else
	fail "kubectl port-forward pod/web :81" "$(cat "$T/pf.refused.err")"
fi
kill_bg

# ---- the Python client (WebSocket v4.channel.k8s.io) ----
cat >"$T/pf.py" <<'EOF'
import sys
from kubernetes import config
from kubernetes.client import CoreV1Api
from kubernetes.stream import portforward

config.load_kube_config(sys.argv[1])
api = CoreV1Api()

# one HTTP exchange over the forwarded socket; the body by its Content-Length (the
# session stays open while another port is forwarded, as with the kubelet)
def get(pf, port):
    s = pf.socket(port)
    s.setblocking(True)
    s.settimeout(20)
    s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        b = s.recv(65536)
        if not b:
            break
        data += b
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        b = s.recv(65536)
        if not b:
            break
        body += b
    s.close()
    return body.decode().strip()

pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80,8080")
a, b = get(pf, 80), get(pf, 8080)
print(a, b, pf.error(80), pf.error(8080))
pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="81")
s = pf.socket(81)
s.settimeout(20)
try:
    s.recv(10)
except Exception:
    pass
print("refused:", pf.error(81))
try:
    portforward(api.connect_get_namespaced_pod_portforward, "nosuch", "default", ports="80")
except Exception as e:
    print("missing:", getattr(e, "status", None), "404" in str(e))
EOF
out=$(IN 1 env HOME="$H" timeout 60 "$PY" "$T/pf.py" "$CL_KUBECONFIG" 2>&1)
expect_eq "python portforward: two ports in one session" "$(head -1 <<<"$out")" "hello-from-web second-port None None"
expect_match "python portforward: a missing pod fails the upgrade" "$(tail -1 <<<"$out")" '^missing: 0 True$'
expect_match "python portforward: refused port on the error channel" "$(sed -n 2p <<<"$out")" \
	'^refused: error forwarding port 81 to pod .*connect: connection refused'

# ---- the proxy subresources, through `kubectl proxy` ----
PP=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bg_in env HOME="$H" timeout 120 "$KUBECTL" --kubeconfig "$CL_KUBECONFIG" proxy --port "$PP" >"$T/proxy.out" 2>&1
wait_for 100 grep -q "Starting to serve" "$T/proxy.out" || fail "kubectl proxy" "$(cat "$T/proxy.out")"
P=http://127.0.0.1:$PP/api/v1/namespaces/default
# code_body URL [CURL ARGS...]: "CODE BODY" (body on one line)
code_body() { local u=$1; shift; CURL -o "$T/body" -w '%{http_code}' "$@" "$u"; echo " $(tr '\n' ' ' <"$T/body" | sed 's/ *$//')"; }

expect_match "service proxy by port number" "$(code_body "$P/services/echo:80/proxy/")" "^200 node=.* name=$ECHO_POD\$"
expect_match "service proxy by port name" "$(code_body "$P/services/echo:http/proxy/")" "^200 node=.* name=$ECHO_POD\$"
expect_match "service proxy with the http: scheme" "$(code_body "$P/services/http:echo:80/proxy/")" "^200 .*name=$ECHO_POD\$"
# no port given: the unnamed service port, and echo's is named
expect_match "service proxy without a port, the only port named: 503" \
	"$(code_body "$P/services/echo/proxy/")" '^503 .*no endpoints available for service \\"echo\\".*"reason":"ServiceUnavailable"'
expect_match "service proxy: the method and the backend's status pass through" \
	"$(code_body "$P/services/echo:80/proxy/x" -X POST --data hello)" '^405 method not allowed: use GET$'
expect_match "service proxy: missing service 404" "$(code_body "$P/services/nosuch:80/proxy/")" \
	'^404 .*services \\"nosuch\\" not found.*"reason":"NotFound"'
expect_match "service proxy: no endpoints 503" "$(code_body "$P/services/nobody:80/proxy/")" \
	'^503 .*no endpoints available for service \\"nobody\\".*"reason":"ServiceUnavailable"'
expect_match "service proxy: a port the service lacks 503" "$(code_body "$P/services/echo:81/proxy/")" \
	'^503 .*no service port 81 found for service \\"echo\\"'
out=$(CURL -o /dev/null -w '%{http_code} %{redirect_url}' "$P/services/echo:80/proxy")
expect_match "service proxy: empty path redirected to .../" "$out" '^301 .*/services/echo:80/proxy/$'

expect_eq "pod proxy, first container port" "$(code_body "$P/pods/web/proxy/index.html")" "200 hello-from-web"
expect_eq "pod proxy :8080" "$(code_body "$P/pods/web:8080/proxy/")" "200 second-port"
expect_eq "pod proxy by container port name" "$(code_body "$P/pods/web:http/proxy/")" "200 hello-from-web"
CURL -o "$T/big3" "$P/pods/web/proxy/big.bin"
expect_eq "pod proxy: 300 KB streamed" "$(md5sum <"$T/big3" | cut -d' ' -f1)" "$BIG_SUM"
out=$(CURL -o /dev/null -w '%{http_code} %{redirect_url}' "$P/pods/web/proxy/sub")
expect_match "pod proxy: the backend's Location goes back through the proxy" "$out" \
	'^30[12] .*/api/v1/namespaces/default/pods/web/proxy/sub/$'
expect_match "pod proxy: missing pod 404" "$(code_body "$P/pods/nosuch/proxy/")" '^404 .*pods \\"nosuch\\" not found'
expect_match "pod proxy: closed port 503" "$(code_body "$P/pods/web:81/proxy/")" '^503 .*error trying to reach pod'
expect_match "pod proxy with the https: scheme to a plain HTTP port: 503" \
	"$(code_body "$P/pods/https:web:80/proxy/")" '^503 .*error trying to reach pod'
expect_match "pod proxy: an unknown scheme 400" "$(code_body "$P/pods/ftp:web:80/proxy/")" '^400 '

# port-forward's errors, as Status objects (kubectl proxy passes upgrades on)
expect_match "portforward of a missing pod: 404" "$(code_body "$P/pods/nosuch/portforward" -X POST)" \
	'^404 .*pods \\"nosuch\\" not found'
expect_match "portforward without an upgrade: 400" "$(code_body "$P/pods/web/portforward" -X POST)" \
	'^400 .*Upgrade request required'
WS=(-H "Connection: Upgrade" -H "Upgrade: websocket" -H "Sec-WebSocket-Version: 13"
	-H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")
expect_match "portforward with a WebSocket subprotocol it does not serve: 400" \
	"$(code_body "$P/pods/web/portforward?ports=80" "${WS[@]}" -H "Sec-WebSocket-Protocol: v5.channel.k8s.io")" \
	'^400 .*unsupported WebSocket subprotocol'
expect_match "portforward with a bad port: the node's 400" \
	"$(code_body "$P/pods/web/portforward?ports=80,abc" "${WS[@]}" -H "Sec-WebSocket-Protocol: v4.channel.k8s.io")" \
	'^400 .*invalid port abc'
expect_match "portforward without ports: the node's 400" \
	"$(code_body "$P/pods/web/portforward" "${WS[@]}" -H "Sec-WebSocket-Protocol: v4.channel.k8s.io")" \
	'^400 .*query parameter \\"port\\" is required'
kill_bg

# ---- kubectl get --raw through the service proxy ----
expect_match "kubectl get --raw services/echo:80/proxy/" \
	"$(KK get --raw /api/v1/namespaces/default/services/echo:80/proxy/ 2>&1)" "^node=.* name=$ECHO_POD\$"

# ---- stopping the node with sessions open ----
# a kubectl forward with a connection held open, and a Python WebSocket session:
# `minik8s down` must end them (API server and agent side) and leave nothing
LP5=$(IN 1 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if start_pf held "$LP5" pod/web "$LP5:80"; then
	bg_in "$PY" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(100)' "$LP5"
	cat >"$T/hold.py" <<'PYEOF'
import sys, time
from kubernetes import config
from kubernetes.client import CoreV1Api
from kubernetes.stream import portforward
config.load_kube_config(sys.argv[1])
pf = portforward(CoreV1Api().connect_get_namespaced_pod_portforward, "web", "default", ports="80")
print("open", flush=True)
time.sleep(100)
PYEOF
	bg_in env HOME="$H" timeout 110 "$PY" "$T/hold.py" "$CL_KUBECONFIG" >"$T/hold.out" 2>&1
	wait_for 100 grep -q open "$T/hold.out" || fail "python session held open" "$(cat "$T/hold.out")"
	if cluster_down 1; then
		pass "minik8s down with port-forward sessions open"
	else
		fail "minik8s down with port-forward sessions open" "$(tail -3 "$T/down1.out")"
	fi
	expect_eq "nothing of the node left after down" "$(cluster_leftovers 1 | tr '\n' ' ')" ""
else
	fail "kubectl port-forward for the held session" "$(cat "$T/pf.held.err")"
fi
kill_bg
done_testing
