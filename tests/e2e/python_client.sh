#!/bin/bash
# The official Python client (Debian python3-kubernetes) end to end: list, create,
# watch (Python sends watch=True: boolean query parameters must be read as
# kube-apiserver reads them) and pod logs, then exec and port-forward in their own
# checks. The server side is tests/lib/stream_fixture: the API server and the agent's
# streaming server with real runc containers (busybox rootfs), all inside a network
# namespace of this test and under its temp dir. The checks are in
# tests/e2e/data/python_client.py.
if [ -z "${MK_PYCLIENT_NETNS:-}" ]; then
	exec env MK_PYCLIENT_NETNS=1 unshare --net "$0" "$@"
fi
. "$(dirname "$0")/../lib/lib.sh"

PY=/usr/bin/python3
FIXTURE=${STREAM_FIXTURE:-$ROOT/build/tests/lib/stream_fixture}
W=$T/w
mkdir -p "$W"
ip link set lo up

for tool in "$FIXTURE" runc; do
	command -v "$tool" >/dev/null || { fail setup "$tool missing"; exit 1; }
done
if ! "$PY" -c 'import kubernetes' 2>/dev/null; then
	DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq python3-kubernetes >/dev/null 2>&1
fi
"$PY" -c 'import kubernetes' 2>/dev/null || { fail setup "python3-kubernetes missing"; exit 1; }
"$ROOT/tests/lib/mkrootfs.sh" "$W/rootfs" >/dev/null || { fail setup "mkrootfs failed"; exit 1; }

stream_fixture_start

# port-forward's target: a one-shot listener in the pods' network namespace (the
# fixture's containers share this test's)
busybox nc -l -p 7777 -e echo pong-from-pod >/dev/null 2>&1 &
_PIDS+=("$!")

# each group in its own process with a time bound: a hang fails that group only
for group in api exec portforward; do
	out=$(HOME=$T timeout 120 "$PY" "$ROOT/tests/e2e/data/python_client.py" "$W/kubeconfig" "$group" 2>"$T/py-$group.err")
	rc=$?
	# the script's lines, counted through lib.sh
	while IFS= read -r line; do
		case $line in
		"PASS: "*) pass "${line#PASS: }" ;;
		"FAIL: "*) rest=${line#FAIL: }; fail "${rest%%: *}" "${rest#*: }" ;;
		esac
	done <<<"$out"
	if [ "$rc" -ne 0 ] || ! grep -q '^PASS: \|^FAIL: ' <<<"$out"; then
		fail "python_$group" "exit $rc: $(tail -3 "$T/py-$group.err")"
	fi
	grep -q '^FAIL: ' <<<"$out" && tail -20 "$T/py-$group.err" >&2
done
done_testing
