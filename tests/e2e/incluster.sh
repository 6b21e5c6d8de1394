#!/bin/bash
# In-cluster API access end to end, for real (root, runc, a network namespace of this
# test as the node): `minik8s server` with its in-process agent, bound to the node's
# address. A pod whose process is the Python client (the host's /usr/bin/python3 and
# python3-kubernetes, reached through read-only hostPath mounts of /usr) calls
# kubernetes.config.load_incluster_config() with nothing but what the pod gets (the
# KUBERNETES_SERVICE_HOST/PORT variables and the automounted token, ca.crt and
# namespace) and talks to the kubernetes Service's ClusterIP through the node's
# nftables balancer, verifying the API server's certificate with the mounted ca.crt
# (another CA bundle fails the handshake): /version answers, a SelfSubjectReview says
# system:serviceaccount:NS:default, listing pods is the 403 of kube-apiserver's RBAC
# wording. A busybox pod prints its environment: the KUBERNETES_* variables of the
# kubernetes Service and the docker-link variables of a Service made before it, with
# explicit env winning and $(VAR) seeing them; enableServiceLinks: false drops the
# namespace's Services but keeps KUBERNETES_*; a Service made after the pod started is
# not in its environment.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"

node_require incluster runc jq curl ip nsenter kubectl openssl /usr/bin/python3
if ! /usr/bin/python3 -c 'import kubernetes' 2>/dev/null; then
	fail "incluster" "python3-kubernetes missing (scripts/deps.sh)"; exit 1
fi
# the API on the node's address, where pods reach it
NODE_BIND=192.168.81.2
node_init ic 192.168.81.2

node_image
[ "$IMG" == "docker.io/test/busybox:latest" ] || { fail "busybox image imported" "$IMG"; exit 1; }
node_start --restart-backoff 1s,2s --disable-dns || { fail "server with agent starts" "$(tail -5 "$T/server.log")"; exit 1; }

KIP=$(K get svc kubernetes -n default -o jsonpath='{.spec.clusterIP}' 2>&1)
expect_eq "the kubernetes Service has the first service address" "$KIP" "10.96.0.1"
SANS=$(openssl x509 -in "$DATA/tls/server.crt" -noout -ext subjectAltName 2>&1)
expect_eq "the serving certificate names the ClusterIP and kubernetes.default.svc(.cluster.local)" \
	"$(tr ',' '\n' <<<"$SANS" | sed 's/^ *//' | grep -cxE 'IP Address:10\.96\.0\.1|DNS:kubernetes\.default\.svc|DNS:kubernetes\.default\.svc\.cluster\.local')" 3

K create namespace team >/dev/null 2>&1
K create service clusterip web-front -n team --tcp=80:8080 --tcp=8443:8443 >/dev/null 2>&1
WIP=$(K get svc web-front -n team -o jsonpath='{.spec.clusterIP}' 2>&1)
expect_match "service web-front has a ClusterIP of its own" "$WIP" '^10\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$'
[ "$WIP" != "$KIP" ] || fail "service web-front has a ClusterIP of its own" "$WIP"

# ended NAME: the pod has ended (Succeeded or Failed)
ended() { local p; p=$(timeout 5 "${IN[@]}" kubectl get pod "$1" -n team -o jsonpath='{.status.phase}' 2>/dev/null)
	[ "$p" == Succeeded ] || [ "$p" == Failed ]; }

# ---- the Python client inside a pod ----
read -r -d '' PY <<'PYEOF'
import json, ssl
from kubernetes import client, config
config.load_incluster_config()
cfg = client.Configuration.get_default_copy()
print("HOST", cfg.host)
print("CA", cfg.ssl_ca_cert, cfg.verify_ssl)
api = client.ApiClient(cfg)
print("VERSION", client.VersionApi(api).get_code().git_version)
r = api.call_api("/apis/authentication.k8s.io/v1/selfsubjectreviews", "POST",
                 body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
                 response_type="object", auth_settings=["BearerToken"],
                 _return_http_data_only=True)
print("WHOAMI", r["status"]["userInfo"]["username"])
ns = open("/var/run/secrets/kubernetes.io/serviceaccount/namespace").read()
try:
    client.CoreV1Api(api).list_namespaced_pod(ns)
    print("LIST allowed")
except client.exceptions.ApiException as e:
    print("LIST", e.status, json.loads(e.body)["message"])
bad = client.Configuration.get_default_copy()
bad.ssl_ca_cert = "/etc/ssl/certs/ca-certificates.crt"
bad.retries = False
try:
    client.VersionApi(client.ApiClient(bad)).get_code()
    print("OTHERCA accepted")
except Exception as e:
    print("OTHERCA refused", "CERTIFICATE_VERIFY_FAILED" in str(e))
PYEOF
host_vol() { jq -n --arg n "$1" --arg p "$2" '{name:$n,hostPath:{path:$p}}'; }
api_json POST /api/v1/namespaces/team/pods "$(jq -c -n --arg img "$IMG" --arg py "$PY" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"pyclient"},
   spec:{restartPolicy:"Never",terminationGracePeriodSeconds:1,
     containers:[{name:"py",image:$img,imagePullPolicy:"Never",
       command:["/usr/bin/python3","-B","-c",$py],
       env:[{name:"PYTHONDONTWRITEBYTECODE",value:"1"}],
       volumeMounts:[{name:"usr",mountPath:"/usr",readOnly:true},
                     {name:"lib",mountPath:"/lib",readOnly:true},
                     {name:"lib64",mountPath:"/lib64",readOnly:true},
                     {name:"ssl",mountPath:"/etc/ssl",readOnly:true}]}],
     volumes:[{name:"usr",hostPath:{path:"/usr"}},{name:"lib",hostPath:{path:"/usr/lib"}},
              {name:"lib64",hostPath:{path:"/usr/lib64"}},{name:"ssl",hostPath:{path:"/etc/ssl"}}]}}')"
expect_code "python client pod created" 201

# ---- busybox pods printing their environment ----
envpod() { # NAME LINKS(true|false|unset)
	jq -c -n --arg img "$IMG" --arg n "$1" --arg l "$2" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n},
	   spec:({restartPolicy:"Never",terminationGracePeriodSeconds:1,
	     containers:[{name:"c",image:$img,imagePullPolicy:"Never",
	       command:["sh","-c","env | sort; sleep 3600"],
	       env:[{name:"WEB_FRONT_SERVICE_PORT",value:"mine"},
	            {name:"SEEN",value:"$(WEB_FRONT_PORT_8443_TCP_ADDR):$(KUBERNETES_SERVICE_PORT)"}]}]}
	     + (if $l == "unset" then {} else {enableServiceLinks:($l == "true")} end))}'
}
api_json POST /api/v1/namespaces/team/pods "$(envpod links unset)"
expect_code "env pod (default enableServiceLinks) created" 201
api_json POST /api/v1/namespaces/team/pods "$(envpod nolinks false)"
expect_code "env pod (enableServiceLinks false) created" 201

running() { [ "$(timeout 5 "${IN[@]}" kubectl get pod "$1" -n team -o jsonpath='{.status.phase}' 2>/dev/null)" == Running ]; }
wait_until 300 running links || fail "env pod runs" "$(K get pod links -n team -o jsonpath='{.status}' 2>&1)"
wait_until 300 running nolinks || fail "env pod without links runs" "$(K get pod nolinks -n team -o jsonpath='{.status}' 2>&1)"
# a Service made now, after the containers started, is not in their environment
K create service clusterip late -n team --tcp=81 >/dev/null 2>&1
wait_until 50 bash -c "timeout 5 ${IN[*]} kubectl logs links -n team 2>/dev/null | grep -q '^SEEN='"
ENV=$(K logs links -n team 2>&1)
envv() { sed -n "s/^$1=//p" <<<"$2"; }
expect_eq "KUBERNETES_SERVICE_HOST/PORT/PORT_HTTPS" \
	"$(envv KUBERNETES_SERVICE_HOST "$ENV") $(envv KUBERNETES_SERVICE_PORT "$ENV") $(envv KUBERNETES_SERVICE_PORT_HTTPS "$ENV")" \
	"$KIP 443 443"
expect_eq "KUBERNETES_PORT and KUBERNETES_PORT_443_TCP(_PROTO,_PORT,_ADDR)" \
	"$(envv KUBERNETES_PORT "$ENV") $(envv KUBERNETES_PORT_443_TCP "$ENV") $(envv KUBERNETES_PORT_443_TCP_PROTO "$ENV") $(envv KUBERNETES_PORT_443_TCP_PORT "$ENV") $(envv KUBERNETES_PORT_443_TCP_ADDR "$ENV")" \
	"tcp://$KIP:443 tcp://$KIP:443 tcp 443 $KIP"
expect_eq "the namespace's Service: WEB_FRONT_SERVICE_HOST, docker links of each port" \
	"$(envv WEB_FRONT_SERVICE_HOST "$ENV") $(envv WEB_FRONT_PORT "$ENV") $(envv WEB_FRONT_PORT_80_TCP "$ENV") $(envv WEB_FRONT_PORT_8443_TCP_PORT "$ENV") $(envv WEB_FRONT_PORT_8443_TCP_ADDR "$ENV") $(envv WEB_FRONT_SERVICE_PORT_8443_8443 "$ENV")" \
	"$WIP tcp://$WIP:80 tcp://$WIP:80 8443 $WIP 8443"
expect_eq "explicit env wins over the service variable" "$(envv WEB_FRONT_SERVICE_PORT "$ENV")" "mine"
expect_eq "\$(VAR) in env sees the service variables" "$(envv SEEN "$ENV")" "$WIP:443"
expect_eq "a Service made after the container started is not in its env" "$(grep -c '^LATE_' <<<"$ENV")" 0
ENV2=$(K logs nolinks -n team 2>&1)
expect_eq "enableServiceLinks false: KUBERNETES_* kept" \
	"$(envv KUBERNETES_SERVICE_HOST "$ENV2") $(envv KUBERNETES_PORT_443_TCP "$ENV2")" "$KIP tcp://$KIP:443"
expect_eq "enableServiceLinks false: no variables of the namespace's Services" \
	"$(grep -c '^WEB_FRONT_SERVICE_HOST\|^WEB_FRONT_PORT' <<<"$ENV2") $(envv SEEN "$ENV2")" \
	"0 \$(WEB_FRONT_PORT_8443_TCP_ADDR):443"

# ---- the Python client's results ----
if wait_until 600 ended pyclient; then pass "python client pod ends"; else fail "python client pod ends" \
	"$(K get pod pyclient -n team -o jsonpath='{.status}' 2>&1)"; fi
OUT=$(K logs pyclient -n team 2>&1)
expect_eq "load_incluster_config: the ClusterIP from the pod's env, the mounted ca.crt" \
	"$(sed -n 's/^HOST //p; s/^CA //p' <<<"$OUT" | tr '\n' ' ')" \
	"https://$KIP:443 /var/run/secrets/kubernetes.io/serviceaccount/ca.crt True "
expect_match "/version through the ClusterIP, TLS verified" "$(sed -n 's/^VERSION //p' <<<"$OUT")" '^v1\.[0-9]+'
expect_eq "SelfSubjectReview: the pod's ServiceAccount" "$(sed -n 's/^WHOAMI //p' <<<"$OUT")" \
	"system:serviceaccount:team:default"
expect_eq "list pods: 403 with kube-apiserver's RBAC wording" "$(sed -n 's/^LIST //p' <<<"$OUT")" \
	'403 pods is forbidden: User "system:serviceaccount:team:default" cannot list resource "pods" in API group "" in the namespace "team"'
expect_eq "another CA bundle does not verify the API server" "$(sed -n 's/^OTHERCA //p' <<<"$OUT")" "refused True"
[ "$FAILED" = 1 ] && echo "$OUT" | tail -20 >&3

stop_server TERM
done_testing
