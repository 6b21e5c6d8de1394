#!/bin/bash
# Credentials: admin token, the join token (k3s-style K10 token; it only bootstraps),
# per-node credentials (system:node:NAME), /cacerts, file modes.
. "$(dirname "$0")/../lib/lib.sh"

start_server --disable-controllers --token joinsecret-0123456789 || { fail server_start "no server"; exit 1; }

# the join token: K10<sha256 of the CA>::node:<secret>, 0600
expect_eq node_token_mode "$(stat -c %a "$DATA/node-token")" 600
expect_eq admin_token_mode "$(stat -c %a "$DATA/token")" 600
NT=$(cat "$DATA/node-token")
expect_eq node_token_form "$NT" "K10$(sha256sum "$CACERT" | cut -d' ' -f1)::node:joinsecret-0123456789"

# /cacerts needs no credentials and serves exactly the CA
curl -s --cacert "$CACERT" -o "$T/cacerts" "$API/cacerts"
check cacerts_body cmp -s "$T/cacerts" "$CACERT"

# the join token only bootstraps: it asks for a node credential, nothing else
ADMIN=$TOKEN
TOKEN=joinsecret-0123456789
api GET /api/v1/namespaces/default/pods
expect_eq join_token_cannot_read_pods "$HTTP_CODE" 403
expect_match join_token_forbidden_is_status "$BODY" '"reason":"Forbidden"'
api POST /apis/authentication.k8s.io/v1/selfsubjectreviews -H 'Content-Type: application/json' \
	-d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
expect_eq join_token_is_a_bootstrapper "$(jq -r '.status.userInfo.username + " " + (.status.userInfo.groups | join(","))' <<<"$BODY")" \
	"system:bootstrap:node-join system:bootstrappers,system:authenticated"
api POST /v1-minik8s/node-credential -H 'Content-Type: application/json' -d '{"nodeName":"n1"}'
expect_eq node_credential_issued "$HTTP_CODE" 201
NODE1=$(jq -r .token <<<"$BODY")
expect_match node_credential_form "$NODE1" '^mknode:n1:[0-9a-f]{64}$'
api POST /v1-minik8s/node-credential -H 'Content-Type: application/json' -d '{"nodeName":"n1"}'
expect_eq node_name_taken_409 "$HTTP_CODE" 409
expect_match node_name_taken_says_so "$BODY" 'already registered'
api POST /v1-minik8s/node-credential -H 'Content-Type: application/json' -d '{"nodeName":"Bad_Name"}'
expect_eq node_credential_bad_name_422 "$HTTP_CODE" 422
TOKEN=$ADMIN
api GET /api/v1/namespaces/kube-system/secrets/n1.node-password.minik8s
expect_eq server_keeps_only_a_hash "$(jqb .type) $(jqb .data.hash | base64 -d)" \
	"minik8s.io/node-password $(printf %s "${NODE1##*:}" | sha256sum | cut -d' ' -f1)"

# the node credential: system:node:n1, reads what a node reads, writes its own things
TOKEN=$NODE1
api POST /apis/authentication.k8s.io/v1/selfsubjectreviews -H 'Content-Type: application/json' \
	-d '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
expect_eq node_identity "$(jq -r '.status.userInfo.username + " " + (.status.userInfo.groups | join(","))' <<<"$BODY")" \
	"system:node:n1 system:nodes,system:authenticated"
api GET /api/v1/namespaces/default/pods
expect_eq node_reads_pods "$HTTP_CODE" 200
api POST /api/v1/namespaces -H 'Content-Type: application/json' -d '{"metadata":{"name":"nope"}}'
expect_eq node_cannot_create_namespace "$HTTP_CODE" 403
expect_match node_forbidden_is_status "$BODY" '"reason":"Forbidden"'
api POST /api/v1/namespaces/default/pods -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}'
expect_eq node_cannot_create_pod "$HTTP_CODE" 403
api POST /api/v1/nodes -H 'Content-Type: application/json' -d '{"metadata":{"name":"n2"}}'
expect_eq node_cannot_register_another_node "$HTTP_CODE" 403
api POST /api/v1/nodes -H 'Content-Type: application/json' -d '{"metadata":{"name":"n1"}}'
expect_eq node_registers_itself "$HTTP_CODE" 201

TOKEN=$ADMIN
api POST /api/v1/namespaces/default/pods -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]}}'
expect_eq admin_creates_pod "$HTTP_CODE" 201
TOKEN=$NODE1
api PATCH /api/v1/namespaces/default/pods/p/status -H 'Content-Type: application/merge-patch+json' \
	-d '{"status":{"phase":"Running"}}'
expect_eq node_patches_pod_status "$HTTP_CODE" 200
api PATCH /api/v1/namespaces/default/pods/p -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"x":"y"}}}'
expect_eq node_cannot_patch_pod_spec "$HTTP_CODE" 403
api POST /api/v1/namespaces/default/events -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"e1"},"involvedObject":{"kind":"Pod","name":"p","namespace":"default"},"reason":"Started","message":"m","type":"Normal"}'
expect_eq node_records_event "$HTTP_CODE" 201
api DELETE "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0"
expect_eq node_deletes_pod "$HTTP_CODE" 200

TOKEN=wrong-token
api GET /api/v1/namespaces
expect_eq wrong_token_401 "$HTTP_CODE" 401
TOKEN=$NT
api GET /api/v1/namespaces
expect_eq full_join_token_is_not_a_bearer "$HTTP_CODE" 401

# deleting the Node drops its credential, and the name can be claimed again
TOKEN=$ADMIN
api DELETE /api/v1/nodes/n1
expect_eq admin_deletes_node "$HTTP_CODE" 200
TOKEN=$NODE1
api GET /api/v1/nodes
expect_eq deleted_node_credential_401 "$HTTP_CODE" 401
TOKEN=joinsecret-0123456789
api POST /v1-minik8s/node-credential -H 'Content-Type: application/json' -d '{"nodeName":"n1"}'
expect_eq freed_name_claimed_again "$HTTP_CODE" 201
NODE1=$(jq -r .token <<<"$BODY")

# restart keeps both secrets and the CA, and --token can change the join secret
stop_server
start_server --disable-controllers || { fail server_restart "no server"; exit 1; }
expect_eq admin_token_kept "$(cat "$DATA/token")" "$ADMIN"
expect_eq join_secret_kept "$(cat "$DATA/node-token")" "$NT"
TOKEN=$NODE1
api GET /api/v1/nodes
expect_eq node_credential_survives_restart "$HTTP_CODE" 200
done_testing
