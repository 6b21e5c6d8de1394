#!/bin/bash
# Store crash safety: durable writers killed with SIGKILL lose no acknowledged write,
# and the revision never goes backwards across restarts.
. "$(dirname "$0")/../lib/lib.sh"

BIN=${STORE_CRASH:-$ROOT/build/tests/lib/store_crash}
if [ ! -x "$BIN" ]; then
	fail store-crash "missing $BIN (run make)"
	exit 1
fi
DB=$T/state.db
prev_rev=0
rounds=4
for round in $(seq "$rounds"); do
	out=$T/round$round.out
	"$BIN" write "$DB" "r$round" 4 >"$out" 2>"$T/round$round.err" &
	pid=$!
	_PIDS+=("$pid")
	# let it run until its first acknowledged write (bounded: a sanitized build on a
	# loaded machine starts slowly), then a random 0.3..1.2 s more
	wait_until 100 grep -q '^ACK ' "$out"
	ms=$((300 + RANDOM % 900))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ -s "$T/round$round.err" ]; then
		fail "store-crash-round$round" "writer failed: $(head -3 "$T/round$round.err")"
		continue
	fi
	list=$T/round$round.list
	if ! "$BIN" list "$DB" >"$list" 2>"$T/list$round.err"; then
		fail "store-crash-round$round" "reopen failed: $(head -3 "$T/list$round.err")"
		continue
	fi
	# a line cut by the kill is not an acknowledgement: keep complete lines only
	grep -E '^(ACK|DEL) [^ ]+ [0-9]+$|^TRY [^ ]+$' "$out" >"$out.ok"
	acks=$(grep -c '^ACK ' "$out.ok")
	rev=$(awk '$1 == "REV" { print $2 }' "$list")
	max_ack=$(awk '$1 == "ACK" || $1 == "DEL" { if ($3 > m) m = $3 } END { print m + 0 }' "$out.ok")
	# acknowledged creates that no delete was tried on must be there; acknowledged
	# deletes must be gone
	missing=$(awk 'FNR == NR { if ($1 == "OBJ") have[$2] = 1; next }
		$1 == "ACK" { ack[$2] = 1 } $1 == "TRY" { tried[$2] = 1 }
		$1 == "DEL" && ($2 in have) { print "deleted-but-present:" $2 }
		END { for (n in ack) if (!(n in tried) && !(n in have)) print "lost:" n }' \
		"$list" "$out.ok" | head -5)
	if [ "$acks" -lt 1 ]; then
		fail "store-crash-round$round" "no write was acknowledged"
	elif [ -n "$missing" ]; then
		fail "store-crash-round$round" "after kill -9: $missing"
	elif [ -z "$rev" ] || [ "$rev" -lt "$max_ack" ] || [ "$rev" -lt "$prev_rev" ]; then
		fail "store-crash-round$round" "revision $rev < acknowledged $max_ack or previous $prev_rev"
	else
		pass "store-crash-round$round ($acks creates acknowledged, revision $rev)"
	fi
	prev_rev=${rev:-$prev_rev}
done
done_testing
