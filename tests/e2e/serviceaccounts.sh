#!/bin/bash
# ServiceAccounts and their tokens end to end, for real (root, runc, a network
# namespace of this test): `minik8s server` with its in-process agent, driven with the
# real kubectl. A new namespace gets its default ServiceAccount; `kubectl create token`
# mints a JWT that `kubectl auth whoami` accepts as system:serviceaccount:NS:default;
# with it, anything beyond discovery and self review is 403 with kube-apiserver's RBAC
# wording; a pod with a projected serviceAccountToken volume reads its token inside
# the container and that token authenticates as the account (and stops doing so once
# the pod is gone: it is bound); a pod naming a missing ServiceAccount is refused
# (403); a TokenRequest of 10 s is 422 naming spec.expirationSeconds; the
# ServiceAccount admission mounts kube-api-access-XXXXX (token, ca.crt from the
# namespace's kube-root-ca.crt, namespace) at /var/run/secrets/kubernetes.io/
# serviceaccount unless automountServiceAccountToken is false; the signing key is 0600
# and survives a restart (a token minted before still works).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require serviceaccounts runc jq curl ip nsenter kubectl base64
node_init sa 192.168.79.2
node_up --restart-backoff 1s,2s --disable-dns
expect_eq "signing key is 0600" "$(stat -c %a "$DATA/tls/sa.key" 2>&1)" 600

# ---- the default ServiceAccount of a new namespace ----
K create namespace team >/dev/null 2>&1
OUT=$(K get sa -n team 2>&1)
expect_match "kubectl get sa: default in a new namespace" "$OUT" $'NAME +SECRETS +AGE\ndefault +0 +'
expect_match "short name sa, every namespace has one" "$(K get sa -A --no-headers 2>&1 | awk '{print $1"/"$2}' | tr '\n' ' ')" \
	'default/default .*kube-system/default .*team/default'

# ---- kubectl create token, whoami, the default deny ----
TOK=$(K create token default -n team 2>&1)
expect_match "kubectl create token gives a JWT" "$TOK" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
CLAIMS=$(cut -d. -f2 <<<"$TOK" | tr '_-' '/+' | awk '{n=length($0)%4; if(n==2)$0=$0"=="; if(n==3)$0=$0"="; print}' | base64 -d 2>/dev/null)
expect_eq "token claims: sub, iss, namespace" \
	"$(jq -r '[.sub, .iss, .["kubernetes.io"].namespace, (.aud|join(","))] | join(" ")' <<<"$CLAIMS" 2>&1)" \
	"system:serviceaccount:team:default https://kubernetes.default.svc.cluster.local team https://kubernetes.default.svc.cluster.local"
OUT=$(K --token="$TOK" auth whoami 2>&1)
expect_match "whoami with the token: the service account" "$OUT" 'Username +system:serviceaccount:team:default'
expect_match "whoami: its groups" "$OUT" 'system:serviceaccounts system:serviceaccounts:team system:authenticated'
OUT=$(K --token="$TOK" get pods -n team 2>&1)
expect_eq "get pods with the token: 403 as kube-apiserver words it" "$OUT" \
	'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:default" cannot list resource "pods" in API group "" in the namespace "team"'
OUT=$(K --token="$TOK" get secret x -n team 2>&1)
expect_eq "get a secret with the token: 403" "$OUT" \
	'Error from server (Forbidden): secrets "x" is forbidden: User "system:serviceaccount:team:default" cannot get resource "secrets" in API group "" in the namespace "team"'
expect_eq "auth can-i with the token: no" "$(K --token="$TOK" auth can-i create deployments -n team 2>&1)" "no"
expect_eq "discovery with the token works" "$(K --token="$TOK" api-resources --no-headers 2>/dev/null | grep -c '^serviceaccounts ')" 1
# one character of the signature changed (not the last one: its low bits are padding)
C=${TOK: -10:1}; [ "$C" == A ] && R=B || R=A
BAD="${TOK:0:${#TOK}-10}$R${TOK: -9}"
expect_match "a token with a bad signature: 401" "$(K --token="$BAD" auth whoami 2>&1)" 'Unauthorized'
api_json POST /api/v1/namespaces/team/serviceaccounts/default/token \
	'{"apiVersion":"authentication.k8s.io/v1","kind":"TokenRequest","spec":{"audiences":["vault"]}}'
AUDTOK=$(jqb .status.token)
expect_match "a token for another audience is not for the API: 401" "$(K --token="$AUDTOK" auth whoami 2>&1)" 'Unauthorized'

# ---- bad requests ----
OUT=$(K create token default -n team --duration=10s 2>&1)
expect_match "kubectl create token --duration=10s: 422 naming the field" "$OUT" \
	'spec.expirationSeconds: Invalid value: 10: may not specify a duration less than 10 minutes'
api_json POST /api/v1/namespaces/team/serviceaccounts/default/token '{"spec":{"expirationSeconds":10}}'
expect_status "TokenRequest expirationSeconds 10: Status 422" 422 Invalid
expect_eq "the cause names spec.expirationSeconds" "$(jqb '.details.causes[0].field')" "spec.expirationSeconds"
OUT=$(K create token nobody -n team 2>&1)
expect_match "token of a missing account: 404" "$OUT" 'serviceaccounts "nobody" not found'
OUT=$(K run lost -n team --image="$IMG" --overrides='{"spec":{"serviceAccountName":"ghost"}}' 2>&1)
expect_eq "pod naming a missing ServiceAccount: 403" "$OUT" \
	'Error from server (Forbidden): pods "lost" is forbidden: error looking up service account team/ghost: serviceaccount "ghost" not found'

# ---- a pod with a projected serviceAccountToken volume ----
K create sa robot -n team >/dev/null 2>&1
api_json POST /api/v1/namespaces/team/pods "$(jq -c -n --arg img "$IMG" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"tok"},
   spec:{serviceAccountName:"robot",terminationGracePeriodSeconds:1,
     containers:[{name:"c",image:$img,imagePullPolicy:"Never",command:["sleep","3600"],
       volumeMounts:[{name:"t",mountPath:"/var/run/secrets/tokens"}]}],
     volumes:[{name:"t",projected:{sources:[{serviceAccountToken:{path:"api-token",expirationSeconds:900}}]}}]}}')"
expect_code "pod with a projected token created" 201
if wait_until 300 bash -c "[ \"\$(timeout 5 ${IN[*]} kubectl get pod tok -n team -o jsonpath='{.status.phase}' 2>/dev/null)\" == Running ]"; then
	pass "pod with the token volume runs"
else
	fail "pod with the token volume runs" "$(K get pod tok -n team -o jsonpath='{.status}' 2>&1)"
fi
PTOK=$(K exec tok -n team -- cat /var/run/secrets/tokens/api-token 2>&1)
expect_match "the container reads its token" "$PTOK" '^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
OUT=$(K --token="$PTOK" auth whoami 2>&1)
expect_match "the pod's token authenticates as its ServiceAccount" "$OUT" 'Username +system:serviceaccount:team:robot'
PCLAIMS=$(cut -d. -f2 <<<"$PTOK" | tr '_-' '/+' | awk '{n=length($0)%4; if(n==2)$0=$0"=="; if(n==3)$0=$0"="; print}' | base64 -d 2>/dev/null)
expect_eq "the pod's token is bound to the pod and lives 900 s" \
	"$(jq -r '[.["kubernetes.io"].pod.name, (.exp - .iat | tostring)] | join(" ")' <<<"$PCLAIMS" 2>&1)" "tok 900"
expect_eq "the pod's token may not list pods" "$(K --token="$PTOK" auth can-i list pods -n team 2>&1)" "no"
# ---- the automounted API access volume (ServiceAccount admission) ----
expect_eq "kube-root-ca.crt in the new namespace holds the cluster CA" \
	"$(K get cm kube-root-ca.crt -n team -o jsonpath='{.data.ca\.crt}' 2>&1 | sha256sum)" "$(sha256sum <"$CACERT")"
VOL=$(K get pod tok -n team -o json 2>/dev/null | jq -c '[.spec.volumes[] | select(.name|startswith("kube-api-access-"))] | length')
expect_eq "admission added one kube-api-access volume" "$VOL" 1
SADIR=/var/run/secrets/kubernetes.io/serviceaccount
expect_eq "the mounted namespace file" "$(K exec tok -n team -- cat $SADIR/namespace 2>&1)" "team"
expect_eq "the mounted ca.crt is the cluster CA" "$(K exec tok -n team -- cat $SADIR/ca.crt 2>&1 | sha256sum)" "$(sha256sum <"$CACERT")"
ATOK=$(K exec tok -n team -- cat $SADIR/token 2>&1)
expect_match "the automounted token authenticates as the pod's account" "$(K --token="$ATOK" auth whoami 2>&1)" \
	'Username +system:serviceaccount:team:robot'
api_json POST /api/v1/namespaces/team/pods "$(jq -c -n --arg img "$IMG" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"nomount"},
   spec:{automountServiceAccountToken:false,containers:[{name:"c",image:$img,command:["sleep","1"]}]}}')"
expect_eq "automountServiceAccountToken false: no volume, default account" \
	"$HTTP_CODE $(jqb '[(.spec.volumes // [] | length | tostring), .spec.serviceAccountName] | join(" ")')" "201 0 default"

# a node may not mint tokens for accounts of no pod of its own (the agent's only right)
NODETOK=$(cat "$DATA/agent/node-credential" 2>/dev/null)
HTTP_CODE=$(curl -s -o "$T/.body" -w '%{http_code}' --cacert "$CACERT" -H "Authorization: Bearer $NODETOK" \
	-H 'Content-Type: application/json' -X POST -d '{"spec":{}}' "$API/api/v1/namespaces/team/serviceaccounts/default/token")
expect_eq "a node may not mint an unbound token" "$HTTP_CODE $(jq -r .reason "$T/.body" 2>&1)" "403 Forbidden"

# ---- restart: the key is kept, the token still works; deleting the pod ends it ----
stop_server TERM
node_start || fail "server restarts" "$(tail -5 "$T/server.log")"
expect_match "a token minted before the restart still works" "$(K --token="$TOK" auth whoami 2>&1)" 'system:serviceaccount:team:default'
K delete pod tok -n team --wait=true --timeout=30s >/dev/null 2>&1
expect_match "the bound token dies with its pod" "$(K --token="$PTOK" auth whoami 2>&1)" 'Unauthorized'
OLDUID=$(K get sa default -n team -o jsonpath='{.metadata.uid}' 2>&1)
K delete sa default -n team >/dev/null 2>&1
expect_match "a token of a deleted ServiceAccount: 401" "$(K --token="$TOK" auth whoami 2>&1)" 'Unauthorized'
NEWUID=$(K get sa default -n team -o jsonpath='{.metadata.uid}' 2>&1)
if [[ "$NEWUID" =~ ^[0-9a-f-]{36}$ && "$NEWUID" != "$OLDUID" ]]; then pass "the default ServiceAccount is made again, with a new uid"
else fail "the default ServiceAccount is made again, with a new uid" "old '$OLDUID' new '$NEWUID'"; fi

stop_server TERM
done_testing
