#!/bin/bash
# The built-in `minik8s kubectl` against a real `minik8s server`: outputs and
# exit codes as real kubectl prints them, objects as real kubectl builds them.
. "$(dirname "$0")/../lib/lib.sh"

K() { "$MINIK8S" kubectl "$@"; }
# run CMD...: sets OUT, ERR, RC
run() {
	"$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}
# jq-like field from JSON on stdin: jget 'd["spec"]["replicas"]'
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); v=$1; print(json.dumps(v) if not isinstance(v,str) else v)"; }

start_server --disable-controllers || { fail server "did not start"; exit 1; }

# ---- help and usage errors (no server needed, but cheap here) --------------------
run K --help
expect_eq "help exit 0" "$RC" 0
expect_match "help lists get" "$OUT" "get +Display one or many resources"
for sub in get create apply delete describe run expose scale; do
	run K "$sub" --help
	if [ "$RC" = 0 ] && [[ "$OUT" == *"Usage:"* ]]; then pass "help $sub"; else fail "help $sub" "rc=$RC"; fi
done
run K get pods --bogus
expect_eq "unknown flag exit 2" "$RC" 2
expect_eq "unknown flag message" "$ERR" "minik8s kubectl get: unknown flag: --bogus (see 'minik8s kubectl get --help')"
run K frobnicate
expect_eq "unknown command exit 2" "$RC" 2
run K scale deployment x
expect_eq "scale without --replicas exit 2" "$RC" 2
run K get foo
expect_eq "unknown type exit 1" "$RC" 1
expect_eq "unknown type message" "$ERR" 'error: the server doesn'"'"'t have a resource type "foo"'

# ---- namespaces and deployments ---------------------------------------------------
run K create namespace demo
expect_eq "create namespace" "$OUT" "namespace/demo created"
run K create namespace demo
expect_eq "create namespace again exit 1" "$RC" 1
expect_eq "create namespace again message" "$ERR" 'Error from server (AlreadyExists): namespaces "demo" already exists'

run K -n demo create deployment php-echo --image=registry.local/team/php-echo:1.0 --replicas=3 --port=80
expect_eq "create deployment" "$OUT" "deployment.apps/php-echo created"
run K -n demo get deployment php-echo -o json
expect_eq "get -o json exit 0" "$RC" 0
expect_eq "deployment replicas" "$(jget 'd["spec"]["replicas"]' <<<"$OUT")" 3
expect_eq "deployment labels" "$(jget 'd["metadata"]["labels"]' <<<"$OUT")" '{"app": "php-echo"}'
expect_eq "deployment selector" "$(jget 'd["spec"]["selector"]["matchLabels"]' <<<"$OUT")" '{"app": "php-echo"}'
expect_eq "container name from image" "$(jget 'd["spec"]["template"]["spec"]["containers"][0]["name"]' <<<"$OUT")" php-echo
expect_eq "container port" "$(jget 'd["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]' <<<"$OUT")" 80
expect_match "json printed like kubectl" "$OUT" $'^\\{\n    "apiVersion": "apps/v1",\n    "kind": "Deployment",\n    "metadata": \\{'

run K -n demo get deploy php-echo -o yaml
expect_match "get -o yaml" "$OUT" $'^apiVersion: apps/v1\nkind: Deployment\nmetadata:\n'
expect_match "yaml block sequence" "$OUT" $'      containers:\n      - image: registry.local/team/php-echo:1.0\n'
expect_match "yaml quotes timestamps" "$OUT" 'creationTimestamp: "[0-9]{4}-'
run K -n demo get deploy -o name
expect_eq "get -o name" "$OUT" "deployment.apps/php-echo"
run K -n demo get deploy -o wide
expect_eq "get -o wide header" "$(head -1 <<<"$OUT")" \
	"NAME       READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES                             SELECTOR"
expect_match "get -o wide row" "$(sed -n 2p <<<"$OUT")" \
	'^php-echo   0/3     0            0           [0-9]+s +php-echo     registry.local/team/php-echo:1.0   app=php-echo$'
run K get deploy -A
expect_match "get -A namespace column" "$OUT" $'^NAMESPACE   NAME       READY   UP-TO-DATE   AVAILABLE   AGE\ndemo        php-echo   0/3 '

# ---- run, get with selectors ----------------------------------------------------------
run K run jumpbox --image=nginx
expect_eq "run" "$OUT" "pod/jumpbox created"
run K run jumpbox --image=nginx
expect_eq "run again exit 1" "$RC" 1
expect_eq "run again message" "$ERR" 'Error from server (AlreadyExists): pods "jumpbox" already exists'
run K run other --image=busybox --labels=app=other,tier=x --restart=Never --env=A=1 -- sleep 3600
expect_eq "run with flags" "$OUT" "pod/other created"
run K get pod jumpbox -o json
expect_eq "run labels" "$(jget 'd["metadata"]["labels"]' <<<"$OUT")" '{"run": "jumpbox"}'
expect_eq "run restartPolicy" "$(jget 'd["spec"]["restartPolicy"]' <<<"$OUT")" Always
run K get pod other -o json
expect_eq "run args after --" "$(jget 'd["spec"]["containers"][0]["args"]' <<<"$OUT")" '["sleep", "3600"]'
expect_eq "run env" "$(jget 'd["spec"]["containers"][0]["env"]' <<<"$OUT")" '[{"name": "A", "value": "1"}]'
expect_eq "run --restart" "$(jget 'd["spec"]["restartPolicy"]' <<<"$OUT")" Never
run K get pods -l run=jumpbox -o name
expect_eq "get -l" "$OUT" "pod/jumpbox"
run K get pods -l 'app in (other)' -o name
expect_eq "get -l set-based" "$OUT" "pod/other"
run K get pods --field-selector metadata.name=other -o name
expect_eq "get --field-selector" "$OUT" "pod/other"
run K get pods
expect_match "get pods table" "$OUT" $'^NAME      READY   STATUS +RESTARTS   AGE\njumpbox   0/1 '
run K get pod nope
expect_eq "get missing exit 1" "$RC" 1
expect_eq "get missing message" "$ERR" 'Error from server (NotFound): pods "nope" not found'
run K -n demo get pods
expect_eq "empty list exit 0" "$RC" 0
expect_eq "empty list message" "$ERR" "No resources found in demo namespace."
run K get pods/jumpbox po/other -o name
expect_eq "get TYPE/NAME" "$OUT" $'pod/jumpbox\npod/other'

# ---- expose and scale -------------------------------------------------------------------
run K -n demo expose deployment php-echo --port=80 --type=ClusterIP
expect_eq "expose" "$OUT" "service/php-echo exposed"
run K -n demo get svc php-echo -o json
expect_eq "expose selector" "$(jget 'd["spec"]["selector"]' <<<"$OUT")" '{"app": "php-echo"}'
expect_eq "expose ports" "$(jget '[(p["port"],p["targetPort"],p["protocol"]) for p in d["spec"]["ports"]]' <<<"$OUT")" '[[80, 80, "TCP"]]'
CIP=$(jget 'd["spec"].get("clusterIP","")' <<<"$OUT")
expect_match "expose clusterIP assigned" "$CIP" '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$'
run K -n demo get svc
expect_match "get svc table" "$OUT" "^NAME       TYPE        CLUSTER-IP +EXTERNAL-IP   PORT\\(S\\)   AGE"$'\n'"php-echo   ClusterIP   $CIP +<none>        80/TCP    "
run K expose pod jumpbox --port=8080 --target-port=80 --name=jb
expect_eq "expose pod" "$OUT" "service/jb exposed"
run K get svc jb -o json
expect_eq "expose pod selector" "$(jget 'd["spec"]["selector"]' <<<"$OUT")" '{"run": "jumpbox"}'
expect_eq "expose pod target port" "$(jget 'd["spec"]["ports"][0]["targetPort"]' <<<"$OUT")" 80
run K -n demo expose deployment nope --port=80
expect_eq "expose missing" "$ERR" 'Error from server (NotFound): deployments.apps "nope" not found'

run K -n demo scale deployment php-echo --replicas=5
expect_eq "scale" "$OUT" "deployment.apps/php-echo scaled"
api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
expect_eq "scale applied" "$(jget 'd["spec"]["replicas"]' <<<"$BODY")" 5
run K -n demo scale deploy/php-echo --replicas=2 --current-replicas=4
expect_eq "scale precondition fails" "$RC" 1

# ---- apply: create, unchanged, configure --------------------------------------------------
cat >"$T/app.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata:
  name: web
---
# a comment-only document is skipped
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - name: A
          value: "3"
        - name: B
          value: "x"
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 80
EOF
run K apply -f "$T/app.yaml"
expect_eq "apply create" "$OUT" $'namespace/web created\ndeployment.apps/web created\nservice/web created'
api GET /apis/apps/v1/namespaces/web/deployments/web
LAST=$(jget 'd["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]' <<<"$BODY")
expect_match "apply annotation" "$LAST" '^\{"apiVersion":"apps/v1","kind":"Deployment","metadata":\{"annotations":\{\},"labels":\{"app":"web"\},"name":"web","namespace":"web"\},"spec":\{"replicas":2,'
expect_eq "apply keeps quoted string" "$(jget 'd["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]' <<<"$BODY")" 3
run K apply -f "$T/app.yaml"
expect_eq "apply unchanged" "$OUT" $'namespace/web unchanged\ndeployment.apps/web unchanged\nservice/web unchanged'
sed -i 's/nginx:1.25/nginx:1.26/; s/replicas: 2/replicas: 4/; /name: B/,+1d' "$T/app.yaml"
run K apply -f "$T/app.yaml"
expect_eq "apply configure" "$OUT" $'namespace/web unchanged\ndeployment.apps/web configured\nservice/web unchanged'
api GET /apis/apps/v1/namespaces/web/deployments/web
expect_eq "apply new replicas" "$(jget 'd["spec"]["replicas"]' <<<"$BODY")" 4
expect_eq "apply new image" "$(jget 'd["spec"]["template"]["spec"]["containers"][0]["image"]' <<<"$BODY")" nginx:1.26
expect_eq "apply removed env entry" "$(jget 'd["spec"]["template"]["spec"]["containers"][0]["env"]' <<<"$BODY")" '[{"name": "A", "value": "3"}]'
expect_eq "apply kept container port" "$(jget 'd["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"]' <<<"$BODY")" 80
run K apply -f - <"$T/app.yaml"
expect_eq "apply from stdin" "$OUT" $'namespace/web unchanged\ndeployment.apps/web unchanged\nservice/web unchanged'
echo '{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"x"}}]}' >"$T/list.json"
run K apply -f "$T/list.json"
expect_eq "apply unknown kind exit 1" "$RC" 1
printf 'kind: [\n' >"$T/bad.yaml"
run K apply -f "$T/bad.yaml"
expect_eq "apply bad yaml exit 1" "$RC" 1
expect_match "apply bad yaml message" "$ERR" "^error: error parsing .*bad.yaml: yaml: line"
run K apply -f "$T/missing.yaml"
expect_eq "apply missing file" "$ERR" "error: the path \"$T/missing.yaml\" does not exist"

# ---- describe ----------------------------------------------------------------------------------
run K -n web describe deployment web
expect_eq "describe exit 0" "$RC" 0
expect_match "describe header" "$OUT" $'^Name:                   web\nNamespace:              web\nCreationTimestamp: '
expect_match "describe replicas" "$OUT" $'\nReplicas:               4 desired \\| 0 updated \\| 0 total \\| 0 available \\| 0 unavailable\n'
expect_match "describe template" "$OUT" $'Pod Template:\n  Labels:  app=web\n  Containers:\n   web:\n    Image:      nginx:1.26\n'
expect_match "describe skips last-applied" "$OUT" $'\nAnnotations:            <none>\n'
expect_match "describe events" "$OUT" $'\nEvents:            <none>$'
run K describe pod jumpbox
expect_match "describe pod" "$OUT" $'^Name:             jumpbox\nNamespace:        default\nService Account:  default\n'
run K describe svc jb
expect_match "describe service" "$OUT" $'\nSelector: +run=jumpbox\nType: +ClusterIP\n'
run K describe pod nope
expect_eq "describe missing" "$ERR" 'Error from server (NotFound): pods "nope" not found'

# ---- watch ---------------------------------------------------------------------------------------
( timeout 5 "$MINIK8S" kubectl get pods -w >"$T/watch.out" 2>"$T/watch.err"; echo $? >"$T/watch.rc" ) &
WPID=$!
for _ in $(seq 50); do [ -s "$T/watch.out" ] && break; sleep 0.1; done
run K run watched --image=nginx
wait $WPID
WOUT=$(cat "$T/watch.out")
expect_eq "watch ended by timeout" "$(cat "$T/watch.rc")" 124
expect_match "watch lists first" "$WOUT" $'^NAME      READY   STATUS +RESTARTS   AGE\njumpbox '
expect_match "watch prints new rows" "$WOUT" $'\nwatched   0/1     Pending   0          [0-9]+s'
# --request-timeout becomes the watch's timeoutSeconds: the server ends the
# stream and get -w exits 0 (the outer timeout only guards against a hang)
run timeout 20 "$MINIK8S" kubectl get pods -w --request-timeout=2s -l run=nope
expect_eq "watch ends with the server's stream" "$RC" 0

# ---- delete --------------------------------------------------------------------------------------
run K delete pod jumpbox
expect_eq "delete" "$OUT" 'pod "jumpbox" deleted'
run K get pod jumpbox
expect_eq "deleted is gone" "$RC" 1
run K delete pod jumpbox
expect_eq "delete missing exit 1" "$RC" 1
expect_eq "delete missing message" "$ERR" 'Error from server (NotFound): pods "jumpbox" not found'
run K delete pod jumpbox --ignore-not-found
expect_eq "delete --ignore-not-found" "$RC" 0
run K delete pods -l app=other
expect_eq "delete -l" "$OUT" 'pod "other" deleted'
run K delete svc/jb pod/watched
expect_eq "delete TYPE/NAME" "$OUT" $'service "jb" deleted\npod "watched" deleted'
# the objects without their namespace (deleting a namespace removes its contents)
awk 'BEGIN{RS="---\n"; ORS=""} NR>1 {print "---\n" $0}' "$T/app.yaml" >"$T/objs.yaml"
run K delete -f "$T/objs.yaml"
expect_eq "delete -f" "$OUT" $'deployment.apps "web" deleted\nservice "web" deleted'
run K delete namespace web --wait=false
expect_eq "delete namespace" "$OUT" 'namespace "web" deleted'
run K -n demo delete deployment php-echo
expect_eq "delete deployment" "$OUT" 'deployment.apps "php-echo" deleted'
# grace periods, as kubectl sends them: a pod bound to a node (none runs here) is
# deleted gracefully, with the period asked for
api POST /api/v1/namespaces/default/pods -H 'Content-Type: application/json' -d \
	'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"graceful"},"spec":{"nodeName":"ghost","containers":[{"name":"c","image":"busybox"}]}}'
expect_eq "bound pod created" "$HTTP_CODE" 201
grace_of() { api GET /api/v1/namespaces/default/pods/graceful; jq -r '.metadata.deletionGracePeriodSeconds' <<<"$BODY"; }
run K delete pod graceful --grace-period=7 --wait=false
expect_eq "delete --grace-period" "$OUT" 'pod "graceful" deleted'
expect_eq "--grace-period is the pod's" "$(grace_of)" 7
run K delete pod graceful --grace-period=0 --wait=false
expect_eq "--grace-period=0 without --force is 1" "$(grace_of)" 1
run K delete pod graceful --now --grace-period=3
expect_eq "--now with --grace-period exit 2" "$RC" 2
run K delete pod graceful --force
expect_eq "delete --force" "$OUT" 'pod "graceful" force deleted'
expect_match "--force warns" "$ERR" "^Warning: Immediate deletion does not wait for confirmation"
api GET /api/v1/namespaces/default/pods/graceful
expect_eq "--force removes it at once" "$HTTP_CODE" 404

# ---- configuration sources ------------------------------------------------------------------------
KC=$KUBECONFIG
run env -u KUBECONFIG HOME="$T" "$MINIK8S" kubectl --kubeconfig "$KC" get ns demo -o name
expect_eq "--kubeconfig" "$OUT" "namespace/demo"
run env -u KUBECONFIG HOME="$T" "$MINIK8S" kubectl -s "$API" --token "$TOKEN" --certificate-authority "$CACERT" get ns demo -o name
expect_eq "--server/--token/--certificate-authority" "$OUT" "namespace/demo"
run env -u KUBECONFIG HOME="$T" "$MINIK8S" kubectl -s "$API" --token wrong --certificate-authority "$CACERT" get ns
expect_eq "bad token" "$ERR" "error: You must be logged in to the server (Unauthorized)"

# ---- create -f --dry-run=client sends nothing ------------------------------------------------------
printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: drynamespace\n' >"$T/dry.yaml"
run K create --dry-run=client -f "$T/dry.yaml"
expect_eq "create -f --dry-run=client" "$OUT" "namespace/drynamespace created (dry run)"
run K create --dry-run=client -o json -f "$T/dry.yaml"
expect_eq "create -f --dry-run=client -o json" "$(jq -r .metadata.name <<<"$OUT")" drynamespace
api GET /api/v1/namespaces/drynamespace
expect_eq "dry run created nothing" "$HTTP_CODE" 404
done_testing
