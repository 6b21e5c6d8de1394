#!/bin/bash
# RBAC end to end, for real (root, runc, a network namespace of this test): `minik8s
# server` with its in-process agent and a --token-auth-file user, driven with the real
# kubectl and the Python client. The bootstrap policy (cluster-admin, admin/edit/view
# by aggregation, the system: roles); a ServiceAccount denied with kube-apiserver's
# exact 403, then allowed in its namespace only by a Role + RoleBinding
# (examples/rbac.yaml); ClusterRole view through a ClusterRoleBinding for the token
# file's user; kubectl auth can-i [--list] --as; kubectl get --as; impersonation
# refused to a user without the impersonate verb; escalation refused (a Role with
# rules the caller lacks, a binding to cluster-admin) with kube-apiserver's words;
# -o wide columns; a bad RoleBinding 422 naming the field and roleRef immutable; a
# real runc pod calling the API with only its mounted token (the host's python3,
# mounted read-only): 403, then 200 once a RoleBinding grants it; a RoleBinding and a
# SubjectAccessReview through the Python client.
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
PY=/usr/bin/python3

node_require rbac runc jq curl ip nsenter kubectl $PY
$PY -c 'import kubernetes' 2>/dev/null || { fail "rbac" "python3-kubernetes missing (scripts/deps.sh)"; exit 1; }
# the API on every address of the test's namespace: pods reach it at NODE_IP
NODE_BIND=0.0.0.0
node_init rbac 192.168.81.2

ALICE_TOKEN=alice-$$-0123456789abcdef
printf '%s,alice,alice-uid,"devs,qa"\n' "$ALICE_TOKEN" >"$T/tokens.csv"
chmod 600 "$T/tokens.csv"

node_up --restart-backoff 1s,2s --disable-dns --token-auth-file "$T/tokens.csv"
AK=(--kubeconfig=/dev/null --server="$API" --certificate-authority="$CACERT")

# ---- the bootstrap policy ----
OUT=$(K get clusterroles --no-headers 2>&1 | awk '{print $1}' | tr '\n' ' ')
expect_match "default ClusterRoles" "$OUT" 'admin cluster-admin edit .*system:basic-user system:discovery system:public-info-viewer view'
expect_match "cluster-admin is bound to group system:masters (-o wide)" \
	"$(K get clusterrolebinding cluster-admin -o wide 2>&1)" \
	$'NAME +ROLE +AGE +USERS +GROUPS +SERVICEACCOUNTS\ncluster-admin +ClusterRole/cluster-admin +[0-9]+s +system:masters'
expect_eq "admin aggregates the rbac rules of system:aggregate-to-admin and edit's" \
	"$(K get clusterrole admin -o json 2>/dev/null | jq -c '[.rules[] | select((.resources|index("rolebindings")) or (.resources|index("deployments")) and (.verbs|index("create")))] | length')" 2
expect_eq "the defaults carry autoupdate" \
	"$(K get clusterrole view -o jsonpath='{.metadata.annotations.rbac\.authorization\.kubernetes\.io/autoupdate}' 2>&1)" true

# ---- a ServiceAccount: denied, then a Role + RoleBinding in its namespace ----
K create namespace team >/dev/null 2>&1
K create namespace other >/dev/null 2>&1
OUT=$(K apply -f "$ROOT/examples/rbac.yaml" 2>&1)
expect_match "examples/rbac.yaml applies" "$OUT" 'role.rbac.authorization.k8s.io/pod-reader created'
K create sa bot -n team >/dev/null 2>&1
BOT=$(K create token bot -n team 2>&1)
OUT=$(K "${AK[@]}" --token="$BOT" get pods -n team 2>&1)
expect_eq "unbound SA: 403 as kube-apiserver words it" "$OUT" \
	'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:bot" cannot list resource "pods" in API group "" in the namespace "team"'
HTTP_CODE=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $BOT" -o "$T/.body" -w '%{http_code}' "$API/api/v1/namespaces/team/pods")
expect_eq "the 403 Status names the resource" "$HTTP_CODE $(jq -r '[.reason, .details.kind, (.details.group // "-")] | join(" ")' "$T/.body" 2>&1)" "403 Forbidden pods -"
expect_eq "discovery still works for it" "$(K "${AK[@]}" --token="$BOT" api-resources --no-headers 2>/dev/null | grep -c '^rolebindings ')" 1
K create rolebinding bot-read -n team --role=pod-reader --serviceaccount=team:bot >/dev/null 2>&1
OUT=$(K "${AK[@]}" --token="$BOT" get pods -n team 2>&1)
expect_eq "bound SA: list pods in its namespace" "$OUT" "No resources found in team namespace."
OUT=$(K "${AK[@]}" --token="$BOT" get pods -n other 2>&1)
expect_eq "bound SA: another namespace is still 403" "$OUT" \
	'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:team:bot" cannot list resource "pods" in API group "" in the namespace "other"'
expect_eq "bound SA: delete is not granted" "$(K "${AK[@]}" --token="$BOT" auth can-i delete pods -n team 2>&1)" no
OUT=$(K auth can-i --list -n team --as=system:serviceaccount:team:bot 2>&1)
expect_match "can-i --list --as the SA: the Role's rule" "$OUT" $'\npods +\\[\\] +\\[\\] +\\[get list watch\\]'
expect_match "can-i --list --as the SA: discovery" "$OUT" $'\n +\\[/api\\] +\\[\\] +\\[get\\]'
expect_eq "can-i --as the SA in another namespace: no" "$(K auth can-i list pods -n other --as=system:serviceaccount:team:bot 2>&1)" no
expect_match "-o wide: the ServiceAccount column" "$(K get rolebinding bot-read -n team -o wide 2>&1)" \
	$'bot-read +Role/pod-reader +[0-9]+s +team:bot'

# ---- a --token-auth-file user; ClusterRole view by ClusterRoleBinding ----
OUT=$(K "${AK[@]}" --token="$ALICE_TOKEN" auth whoami 2>&1)
expect_match "whoami with the static token" "$OUT" 'Username +alice'
expect_match "whoami: uid and groups from the file" "$OUT" $'UID +alice-uid\nGroups +\\[devs qa system:authenticated\\]'
expect_eq "alice via examples/rbac.yaml reads pods in team" "$(K "${AK[@]}" --token="$ALICE_TOKEN" get pods -n team 2>&1)" "No resources found in team namespace."
expect_match "alice may not list deployments everywhere" "$(K "${AK[@]}" --token="$ALICE_TOKEN" get deployments -A 2>&1)" \
	'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" at the cluster scope'
K create clusterrolebinding alice-view --clusterrole=view --user=alice >/dev/null 2>&1
expect_eq "with view: deployments everywhere" "$(K "${AK[@]}" --token="$ALICE_TOKEN" get deployments -A 2>&1)" "No resources found"
expect_match "view is read-only" "$(K "${AK[@]}" --token="$ALICE_TOKEN" create deployment d -n other --image="$IMG" 2>&1)" \
	'deployments.apps is forbidden: User "alice" cannot create resource "deployments" in API group "apps" in the namespace "other"'
expect_eq "view grants no secrets" "$(K auth can-i get secrets -n other --as=alice 2>&1)" no
expect_eq "kubectl get pods --as=alice" "$(K get pods -n other --as=alice 2>&1)" "No resources found in other namespace."
expect_match "kubectl auth whoami --as=alice" "$(K auth whoami --as=alice 2>&1)" 'Username +alice'
OUT=$(K "${AK[@]}" --token="$ALICE_TOKEN" get pods -n team --as=bob 2>&1)
expect_eq "alice may not impersonate" "$OUT" \
	'Error from server (Forbidden): users "bob" is forbidden: User "alice" cannot impersonate resource "users" in API group "" at the cluster scope'

# ---- escalation prevention ----
K create rolebinding alice-admin -n team --clusterrole=admin --user=alice >/dev/null 2>&1
OUT=$(K "${AK[@]}" --token="$ALICE_TOKEN" create role all-pods -n team --verb='*' --resource=pods 2>&1)
expect_eq "a Role with rules alice lacks: 403" "$OUT" \
	'Error from server (Forbidden): roles.rbac.authorization.k8s.io "all-pods" is forbidden: user "alice" (groups=["devs" "qa" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:
{APIGroups:[""], Resources:["pods"], Verbs:["*"]}'
expect_match "a Role within alice's rules is made" \
	"$(K "${AK[@]}" --token="$ALICE_TOKEN" create role some-pods -n team --verb=get,delete --resource=pods 2>&1)" 'role.rbac.authorization.k8s.io/some-pods created'
OUT=$(K "${AK[@]}" --token="$ALICE_TOKEN" create rolebinding root -n team --clusterrole=cluster-admin --user=alice 2>&1)
expect_match "binding cluster-admin: 403" "$OUT" \
	'rolebindings.rbac.authorization.k8s.io "root" is forbidden: user "alice" \(groups=\["devs" "qa" "system:authenticated"\]\) is attempting to grant RBAC permissions not currently held:'
expect_match "binding view (held) is allowed" \
	"$(K "${AK[@]}" --token="$ALICE_TOKEN" create rolebinding bob-view -n team --clusterrole=view --user=bob 2>&1)" 'rolebinding.rbac.authorization.k8s.io/bob-view created'
K create clusterrole binder --verb=bind --resource=clusterroles --resource-name=cluster-admin >/dev/null 2>&1
K create rolebinding alice-binder -n team --clusterrole=binder --user=alice >/dev/null 2>&1
expect_match "with bind on cluster-admin the binding is allowed" \
	"$(K "${AK[@]}" --token="$ALICE_TOKEN" create rolebinding root -n team --clusterrole=cluster-admin --user=carol 2>&1)" 'rolebinding.rbac.authorization.k8s.io/root created'

# ---- bad manifests ----
cat >"$T/bad.yaml" <<'EOF'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bad, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Robot, name: x}
subjects: [{kind: User, name: u}]
EOF
expect_match "a bad roleRef.kind: 422 naming the field" "$(K apply -f "$T/bad.yaml" 2>&1)" \
	'roleRef.kind: Unsupported value: "Robot": supported values: "Role", "ClusterRole"'
expect_match "roleRef is immutable" "$(K patch rolebinding bot-read -n team --type=merge -p '{"roleRef":{"name":"admin","kind":"ClusterRole"}}' 2>&1)" \
	'cannot change roleRef'
expect_match "a namespaced Role may not name URLs" \
	"$(K create -f - 2>&1 <<<'{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"u","namespace":"team"},"rules":[{"nonResourceURLs":["/x"],"verbs":["get"]}]}')" \
	'rules\[0\].nonResourceURLs: Invalid value: .*namespaced rules cannot apply to non-resource URLs'

# ---- a real pod calling the API with only its mounted token ----
K create sa caller -n team >/dev/null 2>&1
cat >"$T/call.py" <<EOF
import ssl, time, urllib.request, urllib.error
d = "/var/run/secrets/kubernetes.io/serviceaccount"
ctx = ssl.create_default_context(cafile=d + "/ca.crt")
last = None
for i in range(240):
    tok = open(d + "/token").read().strip()
    req = urllib.request.Request("https://$NODE_IP:$PORT/api/v1/namespaces/team/configmaps",
                                 headers={"Authorization": "Bearer " + tok})
    try:
        code = urllib.request.urlopen(req, context=ctx, timeout=5).status
    except urllib.error.HTTPError as e:
        code = e.code
    except Exception as e:
        code = type(e).__name__
    if code != last:
        print("code=%s" % code, flush=True)
        last = code
    if code == 200:
        break
    time.sleep(0.25)
time.sleep(3600)
EOF
api_json POST /api/v1/namespaces/team/pods "$(jq -c -n --arg img "$IMG" --rawfile py "$T/call.py" '
  {apiVersion:"v1",kind:"Pod",metadata:{name:"caller"},
   spec:{serviceAccountName:"caller",terminationGracePeriodSeconds:1,
     containers:[{name:"c",image:$img,imagePullPolicy:"Never",command:["/usr/bin/python3","-c",$py],
       volumeMounts:[{name:"usr",mountPath:"/usr",readOnly:true},{name:"lib",mountPath:"/lib",readOnly:true},
         {name:"lib64",mountPath:"/lib64",readOnly:true}]}],
     volumes:[{name:"usr",hostPath:{path:"/usr",type:"Directory"}},{name:"lib",hostPath:{path:"/usr/lib",type:"Directory"}},
       {name:"lib64",hostPath:{path:"/usr/lib64",type:"Directory"}}]}}')"
expect_code "pod calling the API created" 201
logs_have() { K logs caller -n team 2>/dev/null | grep -qx "$1"; }
if wait_until 150 logs_have code=403; then pass "the pod's own token: 403 before any binding"
else fail "the pod's own token: 403 before any binding" "$(K logs caller -n team 2>&1 | tail -3; K get pod caller -n team -o jsonpath='{.status}' 2>&1)"; fi
K create role cm-reader -n team --verb=list --resource=configmaps >/dev/null 2>&1
K create rolebinding caller-cm -n team --role=cm-reader --serviceaccount=team:caller >/dev/null 2>&1
if wait_until 100 logs_have code=200; then pass "the pod's own token: 200 after the RoleBinding"
else fail "the pod's own token: 200 after the RoleBinding" "$(K logs caller -n team 2>&1 | tail -3)"; fi

# ---- the Python client: a RoleBinding and a SubjectAccessReview ----
OUT=$(KUBECONFIG=$KUBECONFIG "${IN[@]}" timeout 60 $PY - <<'EOF' 2>&1
from kubernetes import client, config
config.load_kube_config()
rbac = client.RbacAuthorizationV1Api()
rb = client.V1RoleBinding(
    metadata=client.V1ObjectMeta(name="py-read", namespace="other"),
    role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name="view"),
    subjects=[client.V1Subject(kind="ServiceAccount", name="bot", namespace="team")])
made = rbac.create_namespaced_role_binding("other", rb)
print("created", made.metadata.name, made.role_ref.kind, made.role_ref.name)
authz = client.AuthorizationV1Api()
def sar(user, verb, res, ns):
    r = authz.create_subject_access_review(client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(user=user,
            groups=["system:serviceaccounts", "system:authenticated"],
            resource_attributes=client.V1ResourceAttributes(verb=verb, resource=res, namespace=ns))))
    return r.status.allowed
print("sar", sar("system:serviceaccount:team:bot", "list", "pods", "other"),
      sar("system:serviceaccount:team:bot", "delete", "pods", "other"),
      sar("system:serviceaccount:team:nobody", "list", "pods", "other"))
EOF
)
expect_eq "python: RoleBinding created" "$(grep ^created <<<"$OUT")" "created py-read ClusterRole view"
expect_eq "python: SubjectAccessReview answers from RBAC" "$(grep ^sar <<<"$OUT" || echo "$OUT" | tail -3)" "sar True False False"
expect_eq "the SA now lists pods in other" "$(K "${AK[@]}" --token="$BOT" get pods -n other 2>&1)" "No resources found in other namespace."
api_json POST /apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews \
	'{"kind":"LocalSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"user":"alice","resourceAttributes":{"verb":"delete","resource":"pods","namespace":"team"}}}'
expect_eq "LocalSubjectAccessReview: in its namespace" "$HTTP_CODE $(jqb '[.status.allowed, .metadata.namespace] | map(tostring) | join(" ")')" "201 true team"
api_json POST /apis/authorization.k8s.io/v1/namespaces/team/localsubjectaccessreviews \
	'{"kind":"LocalSubjectAccessReview","apiVersion":"authorization.k8s.io/v1","spec":{"user":"alice","resourceAttributes":{"verb":"delete","resource":"pods","namespace":"other"}}}'
expect_eq "LocalSubjectAccessReview of another namespace: 422" "$HTTP_CODE $(jqb '.details.causes[0].field')" "422 spec.resourceAttributes.namespace"

stop_server TERM
done_testing
