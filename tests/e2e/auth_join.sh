#!/bin/bash
# Credentials: admin token vs node join token (k3s-style K10 token), /cacerts, file modes.
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

# node role: reads anything, writes only nodes, pod status/deletion, events
ADMIN=$TOKEN
TOKEN=joinsecret-0123456789
api GET /api/v1/namespaces/default/pods
expect_eq node_reads_pods "$HTTP_CODE" 200
api POST /api/v1/namespaces -H 'Content-Type: application/json' -d '{"metadata":{"name":"nope"}}'
expect_eq node_cannot_create_namespace "$HTTP_CODE" 403
expect_match node_forbidden_is_status "$BODY" '"reason":"Forbidden"'
api POST /api/v1/namespaces/default/pods -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}'
expect_eq node_cannot_create_pod "$HTTP_CODE" 403
api POST /api/v1/nodes -H 'Content-Type: application/json' -d '{"metadata":{"name":"n1"}}'
expect_eq node_registers_node "$HTTP_CODE" 201

TOKEN=$ADMIN
api POST /api/v1/namespaces/default/pods -H 'Content-Type: application/json' \
	-d '{"metadata":{"name":"p"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"i"}]}}'
expect_eq admin_creates_pod "$HTTP_CODE" 201
TOKEN=joinsecret-0123456789
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

# restart keeps both secrets and the CA, and --token can change the join secret
stop_server
start_server --disable-controllers || { fail server_restart "no server"; exit 1; }
expect_eq admin_token_kept "$(cat "$DATA/token")" "$ADMIN"
expect_eq join_secret_kept "$(cat "$DATA/node-token")" "$NT"
done_testing
