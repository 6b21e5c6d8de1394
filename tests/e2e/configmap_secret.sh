#!/bin/bash
# ConfigMaps and Secrets end to end, for real (root, runc, a network namespace of
# this test): `minik8s server --secrets-encryption` with its in-process agent, driven
# with the real kubectl. Covers kubectl create configmap (--from-literal,
# --from-file) and secret generic / tls / docker-registry, the printed columns,
# jsonpath + base64 -d, the example manifest (env valueFrom configMapKeyRef /
# secretKeyRef, optional keys, envFrom with prefix) checked with kubectl exec env, a
# pod waiting in CreateContainerConfigError until its ConfigMap appears, envFrom
# keys that are no variable names skipped, immutable updates and bad keys refused
# with 422, stringData, imagePullSecrets (a docker-registry Secret logs the agent in
# to a registry that wants basic auth: Debian's docker-registry with htpasswd, in
# the test's namespace), and encryption at rest (the database file holds no secret in
# the clear; after a restart the secret still reads; the key file is 0600).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}

node_require "configmap secret" runc jq curl ip nsenter kubectl openssl base64 docker-registry skopeo python3 sqlite3
node_init cfg 192.168.78.2
node_image
expect_eq "busybox image imported" "$IMG" "docker.io/test/busybox:latest"

# ---- a registry that wants a login, inside the node namespace ----
REG=127.0.0.1:5123
HASH=$(python3 -W ignore -c "import crypt; print(crypt.crypt('pw123', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))")
echo "puller:$HASH" >"$T/htpasswd"
cat >"$T/registry.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $T/regdata }
http:
  addr: $REG
  secret: minik8s-test-secret
auth:
  htpasswd: { realm: minik8s-test, path: $T/htpasswd }
YML
"${IN[@]}" docker-registry serve "$T/registry.yml" >"$T/registry.log" 2>&1 &
_PIDS+=($!)
wait_until 100 curl -s -o /dev/null "http://$REG/v2/"
expect_eq "registry wants a login" "$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")" 401
"${IN[@]}" skopeo copy -q --dest-creds puller:pw123 --dest-tls-verify=false \
	"oci:$T/img/oci/busybox:latest" "docker://$REG/private/busybox:1" >"$T/skopeo.log" 2>&1
expect_eq "image pushed with the login" "$?" 0
# plain HTTP for that registry; the login comes from the pods' pull secrets only
printf 'configs:\n  "%s":\n    insecure: true\n' "$REG" >"$DATA/registries.yaml"

node_start --restart-backoff 1s,2s --disable-dns --secrets-encryption ||
	{ fail "server with agent starts" "$(tail -5 "$T/server.log")"; exit 1; }
pass "server with agent and --secrets-encryption starts"

KEYFILE=$DATA/cred/secrets-encryption.key
expect_eq "encryption key file is 0600" "$(stat -c %a "$KEYFILE" 2>&1)" 600

pod() { api GET "/api/v1/namespaces/default/pods/$1"; }
podq() { pod "$1"; jqb "$2"; }
wait_pod() { # wait_pod NAME JQ_BOOL TRIES(0.1s)
	local i
	for ((i = 0; i < $3; i++)); do
		[ "$(podq "$1" "$2")" == true ] && return 0
		sleep 0.1
	done
	return 1
}

# ---- kubectl create configmap / secret, columns, jsonpath ----
printf 'line one\nline two\n' >"$T/app.properties"
out=$(K create configmap literals --from-literal=color=blue --from-literal=size=XL 2>&1)
expect_eq "kubectl create configmap --from-literal" "$out" "configmap/literals created"
out=$(K create configmap files --from-file="$T/app.properties" --from-file=renamed.txt="$T/app.properties" 2>&1)
expect_eq "kubectl create configmap --from-file" "$out" "configmap/files created"
expect_eq "configmap from file holds the file" "$(K get cm files -o jsonpath='{.data.app\.properties}')" $'line one\nline two'
out=$(K get cm literals files 2>&1)
expect_match "kubectl get cm columns" "$out" '^NAME +DATA +AGE'$'\n''literals +2 +[0-9]+s'$'\n''files +2 +[0-9]+s'

out=$(K create secret generic creds --from-literal=user=admin --from-literal='pass=p@ss w0rd!' 2>&1)
expect_eq "kubectl create secret generic" "$out" "secret/creds created"
expect_eq "jsonpath + base64 -d" "$(K get secret creds -o jsonpath='{.data.pass}' | base64 -d)" 'p@ss w0rd!'
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 -subj /CN=demo >/dev/null 2>&1
out=$(K create secret tls demo-tls --cert="$T/tls.crt" --key="$T/tls.key" 2>&1)
expect_eq "kubectl create secret tls" "$out" "secret/demo-tls created"
expect_eq "tls.crt round trip" "$(K get secret demo-tls -o jsonpath='{.data.tls\.crt}' | base64 -d | sha256sum)" "$(sha256sum <"$T/tls.crt")"
out=$(K create secret docker-registry regcred --docker-server="$REG" --docker-username=puller --docker-password=pw123 2>&1)
expect_eq "kubectl create secret docker-registry" "$out" "secret/regcred created"
auth=$(K get secret regcred -o jsonpath='{.data.\.dockerconfigjson}' | base64 -d | jq -r --arg r "$REG" '.auths[$r].auth' | base64 -d)
expect_eq "dockerconfigjson auth" "$auth" "puller:pw123"
out=$(K get secrets creds demo-tls regcred 2>&1)
expect_match "kubectl get secret columns" "$out" '^NAME +TYPE +DATA +AGE'$'\n''creds +Opaque +2 +[0-9]+s'$'\n''demo-tls +kubernetes.io/tls +2 +[0-9]+s'$'\n''regcred +kubernetes.io/dockerconfigjson +1 +[0-9]+s'

out=$(K describe secret creds 2>&1)
# (kubectl lists the keys in Go map order: either order)
expect_match "kubectl describe secret: sizes, not values" "$out" 'Type: +Opaque'$'\n''.*(pass: +10 bytes'$'\n''user: +5 bytes|user: +5 bytes'$'\n''pass: +10 bytes)'
out=$(timeout 30 "${IN[@]}" "$MINIK8S" kubectl describe secret creds 2>&1)
if [[ "$out" =~ pass:\ +10\ bytes ]] && [[ "$out" != *cEBzcyB3MHJkIQ* ]]; then pass "minik8s kubectl describe secret: sizes, not values"
else fail "minik8s kubectl describe secret: sizes, not values" "$out"; fi
out=$(K describe configmap literals 2>&1)
expect_match "kubectl describe configmap" "$out" 'color:'$'\n''----'$'\n''blue'
out=$(K create configmap dry --from-literal=a=b --dry-run=server -o name 2>&1)
K get cm dry >/dev/null 2>&1
expect_eq "--dry-run=server stores nothing" "$out $?" "configmap/dry 1"

# ---- garbage collection of owned ConfigMaps and Secrets ----
api_json POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner"}}'
OWNER_UID=$(jqb .metadata.uid)
OWNED='"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":"'$OWNER_UID'"}]'
api_json POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owned-cm",'"$OWNED"'}}'
api_json POST /api/v1/namespaces/default/secrets '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"owned-secret",'"$OWNED"'}}'
K delete configmap owner >/dev/null 2>&1
gone() { api GET "/api/v1/namespaces/default/$1"; [ "$HTTP_CODE" = 404 ]; }
if wait_until 100 gone configmaps/owned-cm && wait_until 50 gone secrets/owned-secret; then
	pass "owned ConfigMap and Secret garbage-collected with their owner"
else
	fail "owned ConfigMap and Secret garbage-collected with their owner" "HTTP $HTTP_CODE"
fi

# ---- validation: 422 with field paths ----
api_json POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"badkey"},"data":{"no spaces":"x"}}'
expect_eq "bad configmap key: 422 naming data[no spaces]" "$HTTP_CODE $(jqb '.details.causes[0].field')" "422 data[no spaces]"
api_json POST /api/v1/namespaces/default/secrets '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"bad64"},"data":{"k":"not base64!"}}'
expect_eq "bad base64: 422 naming data[k]" "$HTTP_CODE $(jqb '.details.causes[0].field')" "422 data[k]"
out=$(K create secret generic tlsbad --type=kubernetes.io/tls --from-literal=tls.crt=x 2>&1)
expect_match "tls secret without tls.key refused" "$out" 'data\[tls\.key\]: Required value'

# ---- immutable ----
cat >"$T/imm.yaml" <<'EOF'
apiVersion: v1
kind: Secret
metadata: {name: frozen}
stringData: {token: first}
immutable: true
EOF
K apply -f "$T/imm.yaml" >/dev/null 2>&1
expect_eq "stringData merged into data, dropped" "$(K get secret frozen -o json | jq -c '[.data.token, .stringData, .type]')" '["Zmlyc3Q=",null,"Opaque"]'
api_json PATCH /api/v1/namespaces/default/secrets/frozen '{"stringData":{"token":"second"}}' -H 'Content-Type: application/merge-patch+json'
expect_eq "immutable secret data: 422" "$HTTP_CODE $(jqb '.details.causes[0].field') $(jqb .message | grep -c 'field is immutable when `immutable` is set')" "422 data 1"
api_json PATCH /api/v1/namespaces/default/secrets/frozen '{"immutable":false}' -H 'Content-Type: application/merge-patch+json'
expect_eq "immutable cannot be unset: 422" "$HTTP_CODE $(jqb '.details.causes[0].field')" "422 immutable"
out=$(K label secret frozen team=a 2>&1)
expect_eq "immutable secret: metadata still changes" "$out" "secret/frozen labeled"
api_json PATCH /api/v1/namespaces/default/secrets/frozen '{"type":"example.com/other"}' -H 'Content-Type: application/merge-patch+json'
expect_eq "secret type is immutable: 422" "$HTTP_CODE $(jqb '.details.causes[0].field')" "422 type"

# ---- the example: env from a ConfigMap and a Secret ----
sed -e "s#image: docker.io/library/busybox:1.36#image: $IMG\n    imagePullPolicy: Never#" \
	"$ROOT/examples/configmap-secret.yaml" >"$T/example.yaml"
out=$(K apply -f "$T/example.yaml" 2>&1)
expect_match "example applied" "$out" 'configmap/app-config created'$'\n''secret/db-credentials created'$'\n''pod/config-demo created'
if wait_pod config-demo '.status.phase=="Running"' 300; then pass "example pod Running"
else fail "example pod Running" "$(podq config-demo .status)"; fi
ENV=$(K exec config-demo -- env 2>&1)
expect_match "env from configMapKeyRef" "$ENV" $'(^|\n)GREETING=hello from a ConfigMap(\n|$)'
expect_match "env from secretKeyRef" "$ENV" $'(^|\n)DB_PASSWORD=s3cr3t-example(\n|$)'
expect_match "envFrom configMapRef with prefix" "$ENV" $'(^|\n)APP_mode=demo(\n|$)'
expect_match "envFrom key with a dot" "$ENV" $'(^|\n)APP_log.level=debug(\n|$)'
expect_match "envFrom secretRef with prefix" "$ENV" $'(^|\n)DB_username=app(\n|$)'
if grep -q '^FEATURE_FLAG=' <<<"$ENV"; then fail "optional missing key left unset" "$ENV"; else pass "optional missing key left unset"; fi

# ---- a pod waiting for its ConfigMap; envFrom names that are no variables ----
api_json POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"odd-keys"},"data":{"1st":"skipped","ok-key":"kept"}}'
api_json POST /api/v1/namespaces/default/pods "$(jq -c -n --arg img "$IMG" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"late"},
   spec:{terminationGracePeriodSeconds:3,containers:[{name:"c",image:$img,imagePullPolicy:"Never",
     command:["sleep","3600"],
     env:[{name:"LATE",valueFrom:{configMapKeyRef:{name:"late-config",key:"value"}}},
          {name:"NOPE",valueFrom:{secretKeyRef:{name:"no-such-secret",key:"k",optional:true}}}],
     envFrom:[{configMapRef:{name:"odd-keys"}},{secretRef:{name:"absent",optional:true}}]}]}}')"
expect_code "pod with a missing ConfigMap created" 201
W='.status.containerStatuses[0].state.waiting'
if wait_pod late "$W.reason==\"CreateContainerConfigError\"" 300; then
	pass "pod waits in CreateContainerConfigError"
else
	fail "pod waits in CreateContainerConfigError" "$(podq late .status)"
fi
expect_eq "waiting message as the kubelet's" "$(podq late "$W.message")" 'configmap "late-config" not found'
# the ConfigMap exists but lacks the key
api_json POST /api/v1/namespaces/default/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"late-config"},"data":{"other":"x"}}'
if wait_pod late "$W.message==\"couldn't find key value in ConfigMap default/late-config\"" 100; then
	pass "missing key: couldn't find key message"
else
	fail "missing key: couldn't find key message" "$(podq late "$W")"
fi
api_json PATCH /api/v1/namespaces/default/configmaps/late-config '{"data":{"value":"arrived"}}' -H 'Content-Type: application/merge-patch+json'
if wait_pod late '.status.phase=="Running"' 150; then pass "pod starts once the key appears"
else fail "pod starts once the key appears" "$(podq late .status)"; fi
ENV=$(K exec late -- env 2>&1)
expect_match "late env value" "$ENV" $'(^|\n)LATE=arrived(\n|$)'
expect_match "envFrom valid key kept" "$ENV" $'(^|\n)ok-key=kept(\n|$)'
if grep -q 'skipped' <<<"$ENV"; then fail "envFrom invalid name skipped" "$ENV"; else pass "envFrom invalid name skipped"; fi
ev=$(K get events --field-selector involvedObject.name=late -o jsonpath='{range .items[*]}{.reason}{"|"}{.message}{"\n"}{end}' 2>&1)
expect_match "InvalidEnvironmentVariableNames event" "$ev" 'InvalidEnvironmentVariableNames\|Keys \[1st\] from the EnvFrom configMap default/odd-keys were skipped'

# ---- imagePullSecrets: the agent logs in to the registry ----
PRIV=$REG/private/busybox:1
priv_pod() { # NAME PULL_SECRETS_JSON
	api_json POST /api/v1/namespaces/default/pods "$(jq -c -n --arg n "$1" --arg img "$PRIV" --argjson s "$2" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n},
	   spec:{terminationGracePeriodSeconds:1,imagePullSecrets:$s,
	         containers:[{name:"c",image:$img,imagePullPolicy:"Always",command:["sleep","3600"]}]}}')"
}
priv_pod nologin '[{"name":"no-such-secret"}]'
if wait_pod nologin "$W.reason==\"ErrImagePull\" or $W.reason==\"ImagePullBackOff\"" 200; then
	pass "pull without a login fails"
else
	fail "pull without a login fails" "$(podq nologin .status)"
fi
# the pull's own error is in ErrImagePull's message, and (kubelet 1.32) after
# ImagePullBackOff's 'Back-off pulling image "IMAGE"': 'ErrImagePull: ERROR'; the two
# alternate, and ErrImagePull shows for a second only (a loaded machine may miss it)
expect_match "pull failure says unauthorized" "$(podq nologin "$W.message")" '401|nauthorized'
# reason and message from one read: the two states alternate between reads
backoff_message() { BO_MSG=$(podq nologin "if $W.reason==\"ImagePullBackOff\" then $W.message else \"\" end"); [ -n "$BO_MSG" ]; }
if wait_until 300 backoff_message; then
	expect_match "back-off message carries the pull's error" "$BO_MSG" \
		"^Back-off pulling image \"$PRIV\": ErrImagePull: .*(401|nauthorized)"
else
	fail "back-off message carries the pull's error" "$(podq nologin .status)"
fi
ev=$(K get events --field-selector involvedObject.name=nologin -o jsonpath='{range .items[*]}{.reason}{"\n"}{end}' 2>&1)
expect_match "missing pull secret event" "$ev" FailedToRetrieveImagePullSecret
priv_pod withlogin '[{"name":"no-such-secret"},{"name":"regcred"}]'
if wait_pod withlogin '.status.phase=="Running"' 300; then pass "pod pulls with its imagePullSecrets"
else fail "pod pulls with its imagePullSecrets" "$(podq withlogin .status)"; fi
expect_match "registry saw the login" "$(grep -c 'GET /v2/private/busybox/manifests/1 HTTP/1.1\" 200' "$T/registry.log")" '^[1-9]'
K delete pod nologin --grace-period=1 --wait=false >/dev/null 2>&1

# ---- encryption at rest ----
# a secret written while the flag is on never reaches the file in the clear
SECRET_VALUE=plaintext-marker-$$-$RANDOM
K create secret generic atrest --from-literal=v="$SECRET_VALUE" >/dev/null 2>&1
K create configmap visible --from-literal=v="cm-marker-$$" >/dev/null 2>&1
K patch secret atrest -p '{"metadata":{"labels":{"x":"y"}}}' >/dev/null 2>&1
expect_eq "secret reads back" "$(K get secret atrest -o jsonpath='{.data.v}' | base64 -d)" "$SECRET_VALUE"
stop_server TERM
B64=$(printf %s "$SECRET_VALUE" | base64)
leaks=$(cat "$DATA"/state.db* | grep -c -a -e "$SECRET_VALUE" -e "$B64" -e 's3cr3t-example' -e 'cEBzcyB3MHJkIQ' -e "$(printf s3cr3t-example | base64)")
expect_eq "no secret in the clear in the database files" "$leaks" 0
# ConfigMaps are not encrypted (the file does hold them: the grep above can see)
if cat "$DATA"/state.db* | grep -q -a "cm-marker-$$"; then pass "configmaps stored in the clear"
else fail "configmaps stored in the clear" "marker not found"; fi
# (six of the test's own and the node credential's hash, kube-system/NODE.node-password.minik8s)
n=$(sqlite3 "file:$DATA/state.db?mode=ro" "SELECT (SELECT count(*) FROM objects WHERE resource='secrets'),
	(SELECT count(*) FROM objects WHERE resource='secrets' AND data NOT LIKE 'k8s:enc:aesgcm:v1:key1:%'),
	(SELECT count(*) FROM events WHERE resource='secrets' AND data NOT LIKE 'k8s:enc:aesgcm:v1:key1:%')")
expect_eq "every secret row sealed (secrets, plain objects, plain events)" "$n" "7|0|0"
node_start || { fail "server restarts" "$(tail -5 "$T/server.log")"; exit 1; }
expect_eq "secret readable after restart" "$(K get secret atrest -o jsonpath='{.data.v}' | base64 -d)" "$SECRET_VALUE"
expect_eq "secret list after restart" "$(K get secrets -o name | grep -c .)" 6

# ---- everything goes on delete ----
K delete pod config-demo late withlogin nologin --grace-period=1 --wait=false >/dev/null 2>&1
wait_empty 150 runc --root "$RUN/runc" list -q
expect_eq "no containers left after deleting the pods" "$(runc --root "$RUN/runc" list -q 2>/dev/null | wc -l)" 0
wait_empty 50 ls "$NETNS"
expect_eq "no pod namespaces left" "$(ls "$NETNS" 2>/dev/null | wc -l)" 0
stop_server TERM
done_testing
