#!/bin/bash
# NetworkPolicy enforced in the kernel, on a real one-node cluster (tests/lib/cluster.sh:
# `minik8s up` in a network namespace of its own, runc pods of the lab's echo image,
# the real kubectl). Pods in three namespaces of the test; every probe is a real TCP
# connection (curl -m 1, bounded) from inside one pod's network namespace to another
# pod (or a ClusterIP). As the upstream network-policy e2e "truth tables": each case
# probes every pair, compares with the expected table and prints both on failure
# (each case puts policies on different pods at once):
#   no policy (all open), deny-all ingress, allow from a podSelector, from a
#   namespaceSelector, from both in one peer, ipBlock with except, a named port
#   (resolved per destination pod), port ranges (endPort), egress deny with DNS
#   allowed (and DNS denied by a plain egress deny), traffic through a ClusterIP
#   (judged after DNAT), a label
#   change that flips exactly that pod's row, an established connection that keeps
#   its verdict when a deny policy arrives, and an agent restart (kill -TERM, start
#   again) during which a denied flow never passes, after which the matrix holds.
# Also: kubectl get netpol columns, explain, a bad manifest refused with 422 naming the
# field, the tables removed by `minik8s down`.
. "$(dirname "$0")/../lib/lib.sh"
CL_NODES=1 CL_ID=mknp$$ CL_NET=192.168.243
. "$ROOT/tests/lib/cluster.sh"
curl_max_time 20

if [ "$(id -u)" != 0 ]; then fail netpol "must run as root"; exit 0; fi
for tool in runc jq curl ip nsenter nft dig "$KUBECTL"; do
	command -v "$tool" >/dev/null || { fail netpol "$tool missing (scripts/deps.sh)"; exit 0; }
done
[ -x "$MINIK8S" ] || { fail netpol "build/minik8s missing"; exit 0; }

if ! lab_images "$T/images" >"$T/images.log" 2>&1; then
	fail images_build "$(tail -3 "$T/images.log")"; exit 0
fi
cluster_underlay || { fail underlay "could not create the namespaces"; exit 0; }
cluster_import 1 "$T/images/echo.tar" >"$T/import.log" 2>&1 || { fail image_import "$(tail -2 "$T/import.log")"; exit 0; }
cluster_up_server || { fail "minik8s up" "$(tail -5 "$T/up1.out")"; exit 0; }
pass "node up"

# ---- the kind ----
NA=npa-$$ NB=npb-$$ NC=npc-$$
for n in a b c; do
	v=N${n^^}
	KC create namespace "${!v}" >/dev/null 2>&1 || fail "create namespace ${!v}"
	KC label namespace "${!v}" team=$n >/dev/null 2>&1 || fail "label namespace ${!v}"
done
out=$(sed "s/namespace: default/namespace: $NA/" "$ROOT/examples/networkpolicy.yaml" | KC apply -f - 2>&1)
expect_match example_applied "$out" 'networkpolicy.networking.k8s.io/web-allow-frontend created'
out=$(KC -n "$NA" get netpol 2>&1)
expect_match get_columns "$(head -1 <<<"$out")" '^NAME +POD-SELECTOR +AGE$'
expect_match get_row "$(sed -n 2p <<<"$out")" '^web-allow-frontend +app=web +[0-9]+s$'
expect_eq defaults_policy_types "$(KC -n "$NA" get networkpolicy web-allow-frontend -o jsonpath='{.spec.policyTypes}' 2>&1)" '["Ingress","Egress"]'
expect_match explain "$(KC explain networkpolicy.spec.ingress.from.ipBlock 2>&1)" 'except'
out=$(KC -n "$NA" apply -f - 2>&1 <<'Y'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/24]}}]
    ports: [{port: http, endPort: 90}]
Y
)
expect_match bad_manifest_422 "$out" 'is invalid.*spec.ingress\[0\].from\[0\].ipBlock.except\[0\].*strict subset'
expect_match bad_manifest_endport "$out" 'spec.ingress\[0\].ports\[0\].endPort'
out=$(KC -n "$NA" apply -f - 2>&1 <<'Y'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad2}
spec:
  podSelector: {}
  policyTypes: [Inbound]
  ingress: [{ports: [{protocol: ICMP, port: 80}]}]
Y
)
expect_match bad_policy_type "$out" 'spec.policyTypes\[0\]: Unsupported value: "Inbound"'
expect_match bad_protocol "$out" 'spec.ingress\[0\].ports\[0\].protocol: Unsupported value: "ICMP"'
expect_match describe "$(KC -n "$NA" describe netpol web-allow-frontend 2>&1 | tr '\n' ' ')" 'PodSelector: +app=web.*Allowing ingress traffic'
# generic verbs on the kind: server dry-run, strategic / merge / JSON patch
out=$(sed -e "s/namespace: default/namespace: $NA/" -e 's/name: web-allow-frontend/name: dry/' \
	"$ROOT/examples/networkpolicy.yaml" | KC apply --dry-run=server -f - 2>&1)
expect_match dry_run_server "$out" 'networkpolicy.networking.k8s.io/dry created \(server dry run\)'
expect_match dry_run_stored_nothing "$(KC -n "$NA" get netpol dry 2>&1)" 'NotFound'
KC -n "$NA" patch netpol web-allow-frontend -p '{"spec":{"podSelector":{"matchLabels":{"app":"api"}}}}' >/dev/null 2>&1
KC -n "$NA" patch netpol web-allow-frontend --type=merge -p '{"spec":{"policyTypes":["Ingress"]}}' >/dev/null 2>&1
KC -n "$NA" patch netpol web-allow-frontend --type=json -p '[{"op":"replace","path":"/spec/ingress/0/ports/0/port","value":8080}]' >/dev/null 2>&1
expect_eq patches "$(KC -n "$NA" get netpol web-allow-frontend -o jsonpath='{.spec.podSelector.matchLabels.app} {.spec.policyTypes} {.spec.ingress[0].ports[0].port}' 2>&1)" 'api ["Ingress"] 8080'
KC -n "$NA" delete networkpolicy web-allow-frontend >/dev/null 2>&1

# ---- pods: echo servers answering on $PORT (HTTP) ----
# pod NS NAME LABEL [PORTS_JSON] [CONTAINERS_JSON]
mkpod() {
	local ns=$1 name=$2 app=$3
	local ctrs=${4:-'[{"name":"echo","image":"minik8s.local/echo:1","imagePullPolicy":"IfNotPresent","ports":[{"containerPort":80,"name":"http"}]}]'}
	KC apply -f - >/dev/null 2>&1 <<Y || fail "create pod $ns/$name"
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$name","namespace":"$ns","labels":{"app":"$app"}},
 "spec":{"terminationGracePeriodSeconds":1,"containers":$ctrs}}
Y
}
mkpod "$NA" x x
mkpod "$NA" y y
mkpod "$NB" x x
mkpod "$NB" y y
# c/w1: port 80 named http, 8080 named web; c/w2: port 80 named web
mkpod "$NC" w1 w '[{"name":"e80","image":"minik8s.local/echo:1","imagePullPolicy":"IfNotPresent","ports":[{"containerPort":80,"name":"http"}]},
 {"name":"e8080","image":"minik8s.local/echo:1","imagePullPolicy":"IfNotPresent","env":[{"name":"PORT","value":"8080"}],"ports":[{"containerPort":8080,"name":"web"}]}]'
mkpod "$NC" w2 w '[{"name":"e80","image":"minik8s.local/echo:1","imagePullPolicy":"IfNotPresent","ports":[{"containerPort":80,"name":"web"}]}]'
PODS="a/x a/y b/x b/y c/w1 c/w2"
nsof() { local v=N${1%%/*}; v=${v^^}; echo "${!v}"; }
running() { [ "$(KC get pods -A -o json 2>/dev/null | jq "[.items[] | select(.metadata.namespace | endswith(\"-$$\")) | select(.status.phase == \"Running\" and .status.podIP != null)] | length")" == 6 ]; }
wait_until 1500 running || { fail pods_running "$(KC get pods -A -o wide 2>&1)"; exit 0; }
pass pods_running
declare -A IP NETNS
for p in $PODS; do
	j=$(KC -n "$(nsof "$p")" get pod "${p#*/}" -o json 2>/dev/null)
	IP[$p]=$(jq -r .status.podIP <<<"$j")
	NETNS[$p]=$(ls -d "$(cl_netns 1)"/*"$(jq -r .metadata.uid <<<"$j")" 2>/dev/null | head -1)
	[ -e "${NETNS[$p]}" ] || fail "netns of $p" "$(ls "$(cl_netns 1)")"
done

# probe SRC DST_IP PORT: 1 when an HTTP answer comes back within a second, else 0
probe() { nsenter --net="${NETNS[$1]}" curl -s -m 1 "http://$2:$3/" 2>/dev/null | grep -q '^node=' && echo 1 || echo 0; }
# probe2: a second try after a miss, so that a loaded machine cannot fake a denial
probe2() { [ "$(probe "$@")" == 1 ] && echo 1 || probe "$@"; }
# matrix PORT: one line per source, one digit per destination (in $PODS order);
# every probe of the matrix runs at once (36 processes, each bounded by 1 s)
matrix() {
	local s d port=$1
	mkdir -p "$T/m"; rm -f "$T/m"/*
	for s in $PODS; do for d in $PODS; do
		probe2 "$s" "${IP[$d]}" "$port" >"$T/m/${s/\//_}-${d/\//_}" &
	done; done
	wait
	for s in $PODS; do
		printf '%-5s' "$s"
		for d in $PODS; do cat "$T/m/${s/\//_}-${d/\//_}" | tr -d '\n'; done
		echo
	done
}
# expect_matrix NAME PORT EXPECTED: EXPECTED as matrix prints it (rows "src digits")
expect_matrix() {
	local got
	got=$(matrix "$2")
	if [ "$got" == "$3" ]; then pass "$1"; else
		fail "$1" "port $2, columns $PODS"
		printf 'want:\n%s\ngot:\n%s\n' "$3" "$got"
	fi
}
# rows: each argument is a row's digits in $PODS order
rows() { local s i=0 r=("$@"); for s in $PODS; do printf '%-5s%s\n' "$s" "${r[$i]}"; i=$((i + 1)); done; }
apply() { local o; o=$(KC apply -f - 2>&1) || fail "apply $1" "$o"; }
clear_policies() { for n in "$NA" "$NB" "$NC"; do KC -n "$n" delete networkpolicy --all >/dev/null 2>&1; done; }
# settle SRC DST PORT WANT: waits (bounded) until that probe gives WANT: the policy is in force
settle() { local i; for i in $(seq 30); do [ "$(probe "$1" "${IP[$2]}" "$3")" == "$4" ] && return 0; sleep 0.2; done; return 1; }

expect_matrix open_without_policy 80 "$(rows 111111 111111 111111 111111 111111 111111)"

# Each case applies policies to different pods at once and probes the whole matrix.
# case 1: podSelector (a/x only from a/y), both selectors in one peer (b/x only from
# pods app=y of namespaces team=a), a named port (c/w*: only their port named "web",
# 8080 on w1, 80 on w2)
ALLOW_Y='{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"x-from-y","namespace":"'$NA'"},
 "spec":{"podSelector":{"matchLabels":{"app":"x"}},"ingress":[{"from":[{"podSelector":{"matchLabels":{"app":"y"}}}]}]}}'
apply case1 <<Y
{"apiVersion":"v1","kind":"List","items":[$ALLOW_Y,
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"both","namespace":"$NB"},
 "spec":{"podSelector":{"matchLabels":{"app":"x"}},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"a"}},"podSelector":{"matchLabels":{"app":"y"}}}]}]}},
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"web","namespace":"$NC"},
 "spec":{"podSelector":{"matchLabels":{"app":"w"}},"ingress":[{"ports":[{"port":"web"}]}]}}]}
Y
settle b/x a/x 80 0 && settle a/x b/x 80 0 && settle a/y c/w1 80 0
expect_matrix pod_selector_both_named_port_80 80 "$(rows 110101 111101 011101 010101 010111 010101)"
expect_matrix named_port_8080 8080 "$(rows 000010 000010 000010 000010 000010 000010)"
# nft itself reads back everything the engine wrote: both tables, the shared
# sets (a peer set holding a/y, the named-port set of c/w1 and c/w2) and the rules
rs=$(IN 1 nft list ruleset 2>&1); rc=$?
flat=$(tr -s ' \t\n' ' ' <<<"$rs")
expect_eq nft_list_ruleset "$rc" 0
expect_match nft_ruleset_tables "$flat" 'table inet minik8s-netpol .*table bridge minik8s-netpol |table bridge minik8s-netpol .*table inet minik8s-netpol '
expect_match nft_ruleset_peer_set "$flat" "set p[0-9]+ \\{ type ipv4_addr elements = \\{ ${IP[a/y]//./\\.} \\}"
expect_match nft_ruleset_named_port_set "$flat" "type ipv4_addr \\. inet_proto \\. inet_service elements = \\{ [^}]*${IP[c/w1]//./\\.} \\. tcp \\. 8080"
expect_match nft_ruleset_rule_over_shared_sets "$flat" 'chain ingress \{ [^}]*@s[0-9]+ @nh,96,32 @p[0-9]+ accept'
# someone deletes our table: the runner's check (every second, a GETTABLE probe)
# sees it and programs the tables again
IN 1 nft delete table inet minik8s-netpol 2>/dev/null || fail delete_table
back() { IN 1 nft list table inet minik8s-netpol >/dev/null 2>&1; }
if wait_until 300 back; then pass table_back_after_delete; else fail table_back_after_delete; fi
settle b/x a/x 80 0
expect_eq denied_again_after_table_back "$(probe2 b/x "${IP[a/x]}" 80)" 0
clear_policies

# case 2: ipBlock with except (a/x from the pod CIDR except b/y), a port range that
# leaves 80 out (a/y: 81-90), a namespaceSelector with a range holding 80 (b/* from
# namespaces team=a on 70-85)
apply case2 <<Y
{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"ipblock","namespace":"$NA"},
 "spec":{"podSelector":{"matchLabels":{"app":"x"}},"ingress":[{"from":[{"ipBlock":{"cidr":"10.244.0.0/16","except":["${IP[b/y]}/32"]}}]}]}},
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"range-y","namespace":"$NA"},
 "spec":{"podSelector":{"matchLabels":{"app":"y"}},"ingress":[{"ports":[{"protocol":"TCP","port":81,"endPort":90}]}]}},
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"from-team-a","namespace":"$NB"},
 "spec":{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"a"}}}],"ports":[{"port":70,"endPort":85}]}]}}]}
Y
settle b/y a/x 80 0 && settle b/x a/y 80 0 && settle c/w1 b/x 80 0
expect_matrix ip_block_except_ranges_namespace_selector 80 "$(rows 101111 111111 101011 000111 100011 100011)"
clear_policies

# case 3: deny-all ingress in a; a/y may only talk DNS (UDP and TCP 53): no pod
# answers it, the node's DNS responder does; then a plain egress deny blocks DNS too
dns() { nsenter --net="${NETNS[$1]}" dig @10.96.0.10 +time=1 +tries=1 +short kubernetes.default.svc.cluster.local 2>/dev/null | grep -E '^[0-9.]+$' | head -1; }
apply case3 <<Y
{"apiVersion":"v1","kind":"List","items":[
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny-all","namespace":"$NA"},"spec":{"podSelector":{}}},
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"dns-only","namespace":"$NA"},
 "spec":{"podSelector":{"matchLabels":{"app":"y"}},"policyTypes":["Egress"],"egress":[{"ports":[{"protocol":"UDP","port":53},{"protocol":"TCP","port":53}]}]}}]}
Y
settle b/x a/x 80 0 && settle a/y b/x 80 0
expect_matrix deny_all_egress_dns_only 80 "$(rows 101111 010000 001111 001111 001111 001111)"
expect_eq egress_dns_allowed "$(dns a/y)" 10.96.0.1
apply egress-deny <<Y
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"dns-only","namespace":"$NA"},
 "spec":{"podSelector":{"matchLabels":{"app":"y"}},"policyTypes":["Egress"]}}
Y
gone() { [ -z "$(dns a/y)" ]; }
wait_until 30 gone
expect_eq egress_deny_all_blocks_dns "$(dns a/y)" ""
expect_eq dns_other_pod_unaffected "$(dns a/x)" 10.96.0.1
expect_match nft_tables "$(IN 1 nft list tables 2>&1 | tr '\n' ' ')" 'table inet minik8s-netpol.*table bridge minik8s-netpol|table bridge minik8s-netpol.*table inet minik8s-netpol'
clear_policies
settle a/y b/x 80 1 && settle b/x a/x 80 1

# through a ClusterIP: judged after DNAT, on the pod addresses
KC -n "$NB" create service clusterip svc --tcp=80:80 >/dev/null 2>&1 || fail "create service"
KC -n "$NB" patch service svc -p '{"spec":{"selector":{"app":"x"}}}' >/dev/null 2>&1 || fail "patch service selector"
CIP=$(KC -n "$NB" get service svc -o jsonpath='{.spec.clusterIP}' 2>/dev/null)
via_svc() { [ "$(probe c/w2 "$CIP" 80)" == 1 ]; }
wait_until 100 via_svc || fail "service answers" "$(KC -n "$NB" get endpoints svc 2>&1)"
apply svc-policy <<Y
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"from-team-a","namespace":"$NB"},
 "spec":{"podSelector":{},"ingress":[{"from":[{"namespaceSelector":{"matchLabels":{"team":"a"}}}]}]}}
Y
settle c/w2 b/x 80 0
got=""; for s in $PODS; do got+=$(probe "$s" "$CIP" 80); done
expect_eq cluster_ip_judged_after_dnat "$got" 110000
clear_policies

# a label change flips exactly that pod's row, as set elements (the table stays)
apply x-from-y <<<"$ALLOW_Y"
settle b/x a/x 80 0
handle() { IN 1 nft -a list tables 2>/dev/null | grep 'inet minik8s-netpol'; IN 1 nft -a list chain inet minik8s-netpol ingress 2>/dev/null | grep -o 'handle [0-9]*' | tr '
' ' '; }
H1=$(handle)
KC -n "$NA" label pod y app=z --overwrite >/dev/null 2>&1 || fail "relabel a/y"
settle a/y a/x 80 0
expect_matrix label_change_flips_one_row 80 "$(rows 111111 011111 011111 011111 011111 011111)"
expect_eq label_change_no_new_rules "$(handle)" "$H1"
KC -n "$NA" label pod y app=y --overwrite >/dev/null 2>&1 || fail "relabel a/y back"
settle a/y a/x 80 1
clear_policies
settle b/x a/x 80 1

# an established flow keeps its verdict when a deny-all arrives (conntrack), a new one
# is dropped: UDP to the echo server from a fixed source port, then from another
udp() {
	nsenter --net="${NETNS[$1]}" python3 -c 'import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("", int(sys.argv[2]))); s.settimeout(1)
s.sendto(b"ping", (sys.argv[1], 80))
try: print(1 if s.recv(512).startswith(b"node=") else 0)
except OSError: print(0)' "${IP[$2]}" "$3" 2>/dev/null
}
expect_eq udp_before "$(udp b/x a/x 40001)" 1
apply deny-all <<Y
{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"deny-all","namespace":"$NA"},"spec":{"podSelector":{}}}
Y
settle b/y a/x 80 0
expect_eq udp_established_kept "$(udp b/x a/x 40001)" 1
expect_eq udp_new_flow_denied "$(udp b/x a/x 40002)" 0

# agent restart with deny-all in force: a prober tries b/x -> a/x the whole time
: >"$T/restart-probes"
# each line: the verdict, and "down" while no agent runs
( while [ ! -e "$T/stop-prober" ]; do
	r=$(nsenter --net="${NETNS[b/x]}" curl -s -m 0.3 "http://${IP[a/x]}:80/" 2>/dev/null | grep -c '^node=')
	echo "$r $([ -e "$T/down" ] && echo down)" >>"$T/restart-probes"
done ) &
PROBER=$!
sleep 0.5
PID=$(cluster_pid 1)
kill -TERM "$PID"
for _ in $(seq 150); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID" 2>/dev/null && fail "node stopped" "pid $PID still there"
touch "$T/down"
sleep 1 # the tables alone, no agent, for a moment
cluster_up_server || fail "restart" "$(tail -5 "$T/up1.out")"
rm -f "$T/down"
sleep 1
touch "$T/stop-prober"; wait "$PROBER"
expect_eq restart_no_denied_flow_passed "$(grep -c '^1' "$T/restart-probes")" 0
num_cmp "$(grep -c down "$T/restart-probes")" '>=' 3 && pass restart_probed_while_down ||
	fail restart_probed_while_down "$(grep -c down "$T/restart-probes") probes while down"
expect_matrix deny_all_after_restart 80 "$(rows 101111 011111 001111 001111 001111 001111)"
clear_policies
settle b/x a/x 80 1
expect_matrix open_after_restart 80 "$(rows 111111 111111 111111 111111 111111 111111)"

cluster_down 1
expect_eq down_removes_tables "$(IN 1 nft list tables 2>/dev/null | grep -c minik8s-netpol)" 0
done_testing
