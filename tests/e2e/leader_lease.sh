#!/bin/bash
# The controller manager's leader Lease end to end (real `minik8s server`, real
# kubectl): kube-system/kube-controller-manager is held by the identity kept in the
# data dir (HOSTNAME_<uuid>), leaseDurationSeconds 15, MicroTime renewTime renewed
# every ~2 s. Replacing the holder with another identity and a fresh record (kubectl
# replace) stops the controllers: a deployment scaled meanwhile gets no new pods and
# the foreign Lease, renewed by the test, is left alone; once it has not changed for its
# leaseDurationSeconds the manager takes it back (leaseTransitions + 1) and the
# scale-up happens. Each change is a LeaderElection Event on the Lease, as client-go
# records it. SIGTERM releases the Lease (holderIdentity ""), so a restarted
# server leads again at once.
. "$(dirname "$0")/../lib/lib.sh"
for tool in kubectl jq curl sqlite3; do
	command -v "$tool" >/dev/null || { fail "leader_lease" "$tool missing (scripts/deps.sh)"; exit 1; }
done
curl_max_time 20
start_server || { fail "server starts" "$(tail -5 "$T/server.log")"; exit 1; }
K() { timeout 30 kubectl "$@"; }
LEASE=(lease kube-controller-manager -n kube-system)
lease() { K get "${LEASE[@]}" -o json 2>/dev/null; }
spec() { lease | jq -r ".spec.$1"; }
MICRO='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z$'

ID=$(cat "$DATA/leader-identity" 2>&1)
expect_match "the identity is HOSTNAME_<uuid>" "$ID" "^$(hostname)_[0-9a-f-]{36}\$"
holder_is() { [ "$(spec holderIdentity)" == "$1" ]; }
wait_until 100 holder_is "$ID" || fail "the Lease is held by the server's identity" "$(lease)"
expect_eq "the Lease: holder, leaseDurationSeconds 15, leaseTransitions" \
	"$(lease | jq -r '[.spec.holderIdentity, .spec.leaseDurationSeconds, .spec.leaseTransitions] | join(" ")')" "$ID 15 0"
R1=$(spec renewTime)
expect_match "renewTime is a MicroTime" "$R1" "$MICRO"
expect_match "acquireTime is a MicroTime" "$(spec acquireTime)" "$MICRO"
renewed() { local r; r=$(spec renewTime); [[ "$r" =~ $MICRO && "$r" > "$R1" ]]; }
check "renewTime is renewed (within 5 s)" wait_until 50 renewed

lev() { K get events -n kube-system -o json 2>/dev/null | jq -r '.items[] | select(.reason == "LeaderElection" and
	.involvedObject.kind == "Lease" and .involvedObject.name == "kube-controller-manager") | .message'; }
has_event() { lev | grep -qxF "$1"; }
check "Event LeaderElection on the Lease: ID became leader" wait_until 50 has_event "$ID became leader"

# ---- reconciliation happens while we lead ----
K create deployment web --image=registry.invalid/web:1 --replicas=1 >/dev/null 2>&1
npods() { K get pods -l app=web --no-headers 2>/dev/null | wc -l; }
pods_are() { [ "$(npods)" == "$1" ]; }
check "the deployment gets its pod while we lead" wait_until 100 pods_are 1

# ---- a foreign holder with a fresh record: the controllers stop ----
# (read-modify-write: a renewal in between is a 409, so try again a few times)
for _ in 1 2 3 4 5; do
	NOW=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
	lease | jq --arg now "$NOW" '.spec.holderIdentity = "intruder_1" | .spec.renewTime = $now |
		.spec.acquireTime = $now | .spec.leaseDurationSeconds = 12' >"$T/lease.json"
	OUT=$(K replace -f "$T/lease.json" 2>&1)
	[[ "$OUT" == *Conflict* ]] || break
done
expect_eq "kubectl replace the Lease with another holder" "$OUT" "lease.coordination.k8s.io/kube-controller-manager replaced"
stopped() { grep -q 'stopped leading: lease kube-system/kube-controller-manager held by "intruder_1"' "$T/server.log"; }
check "the manager stops leading" wait_until 100 stopped
check "Event LeaderElection: ID stopped leading" wait_until 50 has_event "$ID stopped leading"
K scale deployment web --replicas=3 >/dev/null 2>&1
# three seconds (a running deployment controller acts within one) of no change, while
# the test, as the foreign leader, keeps renewing its Lease
renew_foreign() { K patch "${LEASE[@]}" --type=merge \
	-p "{\"spec\":{\"renewTime\":\"$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)\"}}" >/dev/null 2>&1; }
moved() { [ "$(npods)" != 1 ] || [ "$(K get rs -l app=web -o jsonpath='{.items[0].spec.replicas}' 2>/dev/null)" != 1 ]; }
END=$((SECONDS + 3)) MOVED=0
while [ "$SECONDS" -lt "$END" ]; do renew_foreign; moved && { MOVED=1; break; }; sleep 0.2; done
if [ "$MOVED" = 1 ]; then fail "no new pods while the foreign lease is live" "$(K get rs,pods -l app=web 2>&1)"
else pass "no new pods while the foreign lease is live"; fi
expect_eq "the live foreign Lease is left alone" "$(spec holderIdentity)" "intruder_1"

# ---- no more renewals: 12 s later it has expired and the manager takes over again ----
if wait_until 200 holder_is "$ID"; then pass "the manager takes the expired Lease back"
else fail "the manager takes the expired Lease back" "$(lease | jq -c .spec)"; fi
expect_eq "leaseTransitions counts the change of holder" "$(spec leaseTransitions)" 1
expect_eq "leaseDurationSeconds is ours again" "$(spec leaseDurationSeconds)" 15
check "the scale-up happens once leading again" wait_until 100 pods_are 3

# ---- SIGTERM releases the Lease ----
stop_server TERM
ROW=$(sqlite3 "$DATA/state.db" "SELECT data FROM objects WHERE resource LIKE '%leases' AND ns='kube-system' AND name='kube-controller-manager'" 2>&1)
expect_eq "SIGTERM released the Lease (holderIdentity empty)" "$(jq -r '.spec.holderIdentity' <<<"$ROW" 2>&1)" ""
grep -q "stopped leading: shutting down" "$T/server.log" && pass "shutdown stops the controllers before releasing" ||
	fail "shutdown stops the controllers before releasing" "$(tail -3 "$T/server.log")"
start_server || { fail "server restarts" "$(tail -5 "$T/server.log")"; exit 1; }
check "a restarted server leads again at once (no expiry wait)" wait_until 30 holder_is "$ID"
expect_eq "leaseTransitions after the release" "$(spec leaseTransitions)" 2
stop_server TERM
done_testing
