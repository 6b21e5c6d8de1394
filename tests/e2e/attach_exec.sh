#!/bin/bash
# attach, `kubectl run -it --rm`, exec over every channel protocol, and logs options,
# end to end on a one-node cluster: `minik8s server` with its in-process agent in a
# network namespace of this test (as agent_pods.sh), real runc pods from an image
# built offline, the real kubectl 1.32 and the official Python client (Debian
# python3-kubernetes). Terminals are driven by tests/lib/ptydrive.py (a real pty).
. "$(dirname "$0")/../lib/lib.sh"
. "$(dirname "$0")/../lib/node.sh"
MINIK8S=${MINIK8S_BIN:-$MINIK8S}
PY=/usr/bin/python3
PTY="$PY $ROOT/tests/lib/ptydrive.py"

node_require "attach exec" runc jq curl ip nsenter od "$KUBECTL"
"$PY" -c 'import kubernetes, websocket' 2>/dev/null ||
	{ fail "attach exec" "python3-kubernetes missing (scripts/deps.sh)"; exit 1; }
node_init att 192.168.78.2

node_image
expect_eq "busybox image imported" "$IMG" "docker.io/test/busybox:latest"
node_start --restart-backoff 1s,4s || { fail "server with agent starts" "$(tail -5 "$T/server.log")"; exit 1; }
K() { "${IN[@]}" timeout 60 "$KUBECTL" "$@"; }

# pod_apply NAME CONTAINER_JSON_EXTRA: a one-container pod, restartPolicy Never
pod_apply() {
	jq -n --arg n "$1" --arg img "$IMG" --argjson x "$2" '
	  {apiVersion:"v1",kind:"Pod",metadata:{name:$n},
	   spec:{restartPolicy:"Never",terminationGracePeriodSeconds:1,
	         containers:[{name:"c",image:$img,imagePullPolicy:"Never"} + $x]}}' >"$T/$1.json"
	K apply -f "$T/$1.json" >/dev/null
}
wait_running() { K wait --for=condition=Ready "pod/$1" --timeout=60s >/dev/null 2>&1; }
gone() { ! K get pod "$1" >/dev/null 2>&1; }

# ---- exec: kubectl -it on a real pty, no stray bytes -------------------------------

pod_apply web '{"command":["sh","-c","echo hello from web; echo to stderr >&2; exec sleep 3600"]}'
wait_running web || fail "pod web running" "$(K get pod web -o yaml | tail -20)"

"${IN[@]}" $PTY --timeout 30 -- "$KUBECTL" exec -it web -- echo hi >"$T/tty.out"
rc=$?
expect_eq "kubectl exec -it: exit code" "$rc" 0
expect_eq "kubectl exec -it: output bytes are exactly the command's (od)" \
	"$(od -An -c "$T/tty.out" | tr -s ' ')" "$(printf 'hi\r\n' | od -An -c | tr -s ' ')"
# the size is asked once the shell prompts: kubectl sent it (resize channel) by then
"${IN[@]}" $PTY --wait '#' --input 'stty size\necho $((6 * 7))\nexit 4\n' --timeout 30 -- \
	"$KUBECTL" exec -it web -- sh >"$T/tty2.out"
rc=$?
expect_eq "kubectl exec -it sh: exit code 4" "$rc" 4
expect_match "kubectl exec -it sh: terminal size from the resize channel" "$(tr -d '\r' <"$T/tty2.out")" $'\n45 123\n'
expect_match "kubectl exec -it sh: command answered" "$(tr -d '\r' <"$T/tty2.out")" $'\n42\n'
check "kubectl exec -it sh: no NUL byte" bash -c "! od -An -tx1 '$T/tty2.out' | grep -qw 00"

# ---- exec with the Python client (v4.channel.k8s.io) and its logs ---------------------

cat >"$T/py_exec.py" <<'PYEOF'
import sys
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config()
v1 = client.CoreV1Api()
out = stream(v1.connect_get_namespaced_pod_exec, "web", "default", command=["echo", "hi"],
             stderr=True, stdin=False, stdout=True, tty=False)
print("echo:" + out.strip())
r = stream(v1.connect_get_namespaced_pod_exec, "web", "default",
           command=["sh", "-c", "echo out; echo err >&2; exit 3"],
           stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
r.run_forever(timeout=20)
print("fail:%s|%s|%s" % (r.read_stdout().strip(), r.read_stderr().strip(), r.returncode))
r = stream(v1.connect_get_namespaced_pod_exec, "web", "default", command=["cat"],
           stderr=True, stdin=True, stdout=True, tty=False, _preload_content=False)
r.write_stdin("ping\n")
for _ in range(100):  # update()'s timeout is in ms (select.poll): 100 x 100 ms at most
    r.update(timeout=100)
    if "ping" in r.peek_stdout():
        break
got = r.read_stdout()
r.close()
print("stdin:" + got.strip())
print("logs:" + "|".join(v1.read_namespaced_pod_log("web", "default").splitlines()))
print("tail:" + v1.read_namespaced_pod_log("web", "default", tail_lines=1).strip())
PYEOF
out=$("${IN[@]}" timeout 60 "$PY" "$T/py_exec.py" 2>&1)
expect_match "python exec: echo hi gives hi" "$out" $'(^|\n)echo:hi\n'
expect_match "python exec: exit code 3 on the error channel" "$out" $'\nfail:out\\|err\\|3\n'
expect_match "python exec: stdin" "$out" $'\nstdin:ping\n'
expect_match "python logs" "$out" $'\nlogs:(hello from web\\|to stderr|to stderr\\|hello from web)\n'
expect_match "python logs tail_lines" "$out" $'\ntail:(hello from web|to stderr)'

# ---- the older protocols, over raw WebSocket ----------------------------------------

cat >"$T/ws_raw.py" <<'PYEOF'
# prints every message the server sends for one exec, decoded: "CHANNEL:DATA"
import base64, os, ssl, sys, websocket, yaml
kc = yaml.safe_load(open(os.environ["KUBECONFIG"]))
srv = kc["clusters"][0]["cluster"]["server"].replace("https://", "wss://")
tok = kc["users"][0]["user"]["token"]
proto, script = sys.argv[1], sys.argv[2]
url = srv + "/api/v1/namespaces/default/pods/web/exec?command=sh&command=-c&command=" + \
      script.replace(" ", "%20").replace(";", "%3B").replace(">", "%3E").replace("&", "%26") + \
      "&stdin=true&stdout=true&stderr=true"
hdr = ["Authorization: Bearer " + tok]
if proto != "none":
    hdr.append("Sec-WebSocket-Protocol: " + proto)
ws = websocket.create_connection(url, header=hdr, sslopt={"cert_reqs": ssl.CERT_NONE},
                                 subprotocols=None, timeout=20)
b64 = "base64" in proto
def send(ch, data):
    if b64:
        ws.send(chr(ord("0") + ch) + base64.b64encode(data).decode())
    else:
        ws.send_binary(bytes([ch]) + data)
send(0, b"abc\n")
while True:
    op, data = ws.recv_data(control_frame=True)
    if op == 8:
        print("close")
        break
    if op not in (1, 2) or not data:
        continue
    if b64:
        ch, payload = data[0] - ord("0"), base64.b64decode(data[1:])
    else:
        ch, payload = data[0], data[1:]
    print("%d:%s" % (ch, payload.decode().strip()))
PYEOF
for proto in channel.k8s.io base64.channel.k8s.io v2.channel.k8s.io v3.channel.k8s.io \
	v4.channel.k8s.io v4.base64.channel.k8s.io none; do
	out=$("${IN[@]}" timeout 30 "$PY" "$T/ws_raw.py" "$proto" 'read l; echo got $l; echo e >&2; exit 2' 2>&1)
	case $proto in
	v4*) want_st='3:{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: exit status 2","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"2"}]}}' ;;
	*) want_st='3:command terminated with non-zero exit code: exit status 2' ;;
	esac
	expect_match "exec over $proto: stdout" "$out" '(^|'$'\n'')1:got abc'$'\n'
	expect_match "exec over $proto: stderr" "$out" '(^|'$'\n'')2:e'$'\n'
	expect_contains "exec over $proto: status" "$out" "$want_st"$'\nclose'
done
out=$("${IN[@]}" timeout 30 "$PY" "$T/ws_raw.py" v4.channel.k8s.io 'true' 2>&1)
expect_contains "exec over v4: Success status" "$out" '3:{"metadata":{},"status":"Success"}'
out=$("${IN[@]}" timeout 30 "$PY" "$T/ws_raw.py" channel.k8s.io 'true' 2>&1)
expect_eq "exec over channel.k8s.io: nothing on the error channel on success" "$out" "close"
out=$("${IN[@]}" timeout 30 "$PY" "$T/ws_raw.py" v9.channel.k8s.io 'true' 2>&1)
expect_match "exec with an unknown subprotocol: 400" "$out" '400'

# ---- attach -------------------------------------------------------------------------

# stdin + stdinOnce: piped input reaches the process; EOF closes its stdin
pod_apply echoer '{"stdin":true,"stdinOnce":true,"command":["sh","-c","while read l; do echo in:$l; done; echo done"]}'
wait_running echoer || fail "pod echoer running"
out=$(printf 'a\nb\n' | K attach -i echoer 2>"$T/attach.err")
rc=$?
expect_eq "kubectl attach -i: input answered, EOF ends it" "$rc:$out" $'0:in:a\nin:b\ndone'

# the Python client's attach (v4.channel.k8s.io) to a stdin container without stdinOnce
pod_apply pyatt '{"stdin":true,"command":["sh","-c","while read l; do echo py:$l; done"]}'
wait_running pyatt || fail "pod pyatt running"
out=$("${IN[@]}" timeout 60 "$PY" -c '
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config()
v1 = client.CoreV1Api()
r = stream(v1.connect_get_namespaced_pod_attach, "pyatt", "default", stdin=True, stdout=True,
           stderr=True, tty=False, _preload_content=False)
for word in ("x", "y"):
    r.write_stdin(word + "\n")
    for _ in range(100):  # update() waits in ms
        r.update(timeout=100)
        if "py:" + word in r.peek_stdout():
            break
print(r.read_stdout().replace("\n", "|"))
r.close()' 2>&1)
expect_eq "python attach: input answered" "$out" "py:x|py:y|"
expect_eq "python attach: the container keeps running without stdinOnce" \
	"$(K get pod pyatt -o jsonpath='{.status.phase}')" Running


pod_apply ticker '{"command":["sh","-c","i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"]}'
wait_running ticker || fail "pod ticker running"
"${IN[@]}" timeout 6 "$KUBECTL" attach ticker >"$T/ticker.out" 2>&1
rc=$?
n=$(grep -c '^tick [0-9]*$' "$T/ticker.out")
if [ "$rc" = 124 ] && [ "$n" -ge 3 ]; then pass "kubectl attach: output of a running container"
else fail "kubectl attach: output of a running container" "rc=$rc lines=$n: $(head -3 "$T/ticker.out")"; fi

# a tty container: attach -it on a pty, input and resize reach its shell
pod_apply ttypod '{"stdin":true,"tty":true,"command":["sh"]}'
wait_running ttypod || fail "pod ttypod running"
"${IN[@]}" $PTY --wait 'If you don' --input 'stty size\necho $((6 * 7))\nexit 5\n' --timeout 30 -- \
	"$KUBECTL" attach -it ttypod >"$T/att-tty.out" 2>&1
out=$(tr -d '\r' <"$T/att-tty.out")
expect_match "kubectl attach -it: terminal size" "$out" $'\n45 123\n'
expect_match "kubectl attach -it: command answered" "$out" $'\n42\n'
exit_code() { K get pod "$1" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}'; }
wait_until 100 eval '[ "$(exit_code ttypod)" = 5 ]'
expect_eq "kubectl attach -it: the shell's exit ends the container (exit code 5)" "$(exit_code ttypod)" 5

# ---- kubectl run --rm -i / -it --------------------------------------------------------

out=$(echo hello | K run t1 -i --rm --restart=Never --image="$IMG" --image-pull-policy=Never --command \
	-- sh -c 'read x; echo got:$x' 2>"$T/run1.err")
rc=$?
expect_eq "kubectl run -i --rm: output of the input" "$rc:$(grep -v 'deleted' <<<"$out")" "0:got:hello"
wait_until 100 gone t1
check "kubectl run -i --rm: pod deleted" gone t1

"${IN[@]}" $PTY --wait 'If you don' --input 'echo $((6 * 7))\nexit\n' --timeout 60 -- \
	"$KUBECTL" run t2 -it --rm --image="$IMG" --image-pull-policy=Never -- sh \
	>"$T/run2.out" 2>&1
rc=$?
out=$(tr -d '\r' <"$T/run2.out")
expect_match "kubectl run -it --rm: shell answered" "$out" $'\n42\n'
expect_match "kubectl run -it --rm: pod deleted at exit" "$out" 'pod "t2" deleted'
expect_eq "kubectl run -it --rm: exit code" "$rc" 0
wait_until 600 gone t2 # graceful deletion; slow on a loaded machine
check "kubectl run -it --rm: pod gone" gone t2

# ---- logs options ----------------------------------------------------------------------

# two lines at least two seconds apart: a sinceTime of the second line's second
# (kubectl sends whole seconds) lies strictly between them
pod_apply twolines '{"command":["sh","-c","echo early; sleep 2.5; echo late; exec sleep 3600"]}'
wait_running twolines || fail "pod twolines running"
wait_until 100 eval '[ "$(K logs twolines 2>/dev/null | wc -l)" = 2 ]'
out=$(K logs twolines --timestamps)
expect_match "logs --timestamps: RFC3339Nano, no trailing zeros" "$out" \
	'^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]*[1-9])?Z early'$'\n''[^ ]+Z late$'
late_ts=$(sed -n 's/ late$//p' <<<"$out")
expect_eq "logs --since-time between the lines" "$(K logs twolines --since-time="${late_ts%%.*}Z")" "late"
expect_eq "logs --since-time in the past" "$(K logs twolines --since-time=2000-01-01T00:00:00Z)" $'early\nlate'
expect_eq "logs --since-time in the future" "$(K logs twolines --since-time=2099-01-01T00:00:00Z)" ""
expect_eq "logs --since 1h" "$(K logs twolines --since=1h)" $'early\nlate'
expect_eq "logs --tail 1 with --since-time in the past" \
	"$(K logs twolines --tail=1 --since-time=2000-01-01T00:00:00Z)" "late"
out=$(K logs twolines --limit-bytes=3; echo "rc=$?")
expect_eq "logs --limit-bytes 3" "$out" $'earrc=0'
out=$(K logs twolines -f --limit-bytes=8 | od -An -c | tr -s ' '; echo "rc=${PIPESTATUS[0]}")
expect_eq "logs -f --limit-bytes ends the stream after 8 bytes" "$out" $' e a r l y \\n l a\nrc=0'
out=$("${IN[@]}" timeout 30 "$PY" -c '
from kubernetes import client, config
config.load_kube_config()
v1 = client.CoreV1Api()
print(v1.read_namespaced_pod_log("twolines", "default", since_seconds=3600).replace("\n", "|"))
print(v1.read_namespaced_pod_log("twolines", "default", limit_bytes=4))' 2>&1)
expect_eq "python logs since_seconds, limit_bytes" "$out" $'early|late|\nearl'

api() {
	HTTP_CODE=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -o "$T/.body" \
		-w '%{http_code}' "$API$1")
	BODY=$(cat "$T/.body")
}
api "/api/v1/namespaces/default/pods/twolines/log?sinceSeconds=0&tailLines=-1"
expect_status "pods/log sinceSeconds=0, tailLines=-1: 422" 422 Invalid
expect_eq "pods/log 422: the fields" "$(jqb '[.details.causes[].field] | join(",")')" "tailLines,sinceSeconds"
api "/api/v1/namespaces/default/pods/twolines/log?sinceSeconds=5&sinceTime=2000-01-01T00:00:00Z"
expect_status "pods/log sinceSeconds with sinceTime: 422" 422 Invalid
expect_contains "pods/log sinceSeconds with sinceTime: message" "$BODY" 'at most one of `sinceTime` or `sinceSeconds` may be specified'
api "/api/v1/namespaces/default/pods/twolines/log?limitBytes=0"
expect_status "pods/log limitBytes=0: 422" 422 Invalid
api "/api/v1/namespaces/default/pods/twolines/log?sinceTime=yesterday"
expect_status "pods/log sinceTime not a time: 400" 400 BadRequest

# previous: the instance before a restart
out=$(K logs twolines --previous 2>&1)
expect_contains "logs --previous without a restart" "$out" 'previous terminated container "c" in pod "twolines" not found'
jq -n --arg img "$IMG" '{apiVersion:"v1",kind:"Pod",metadata:{name:"crasher"},
  spec:{restartPolicy:"Always",terminationGracePeriodSeconds:1,containers:[{name:"c",image:$img,
  imagePullPolicy:"Never",command:["sh","-c","echo run at $(cat /proc/uptime); sleep 0.5; exit 1"]}]}}' >"$T/crasher.json"
K apply -f "$T/crasher.json" >/dev/null
wait_until 200 eval '[ "$(K get pod crasher -o jsonpath="{.status.containerStatuses[0].restartCount}")" -ge 1 ] 2>/dev/null'
wait_until 100 eval '[ -n "$(K logs crasher 2>/dev/null)" ]'
prev=$(K logs crasher --previous 2>&1)
cur=$(K logs crasher 2>&1)
expect_match "logs --previous: the last instance's output" "$prev" '^run at [0-9.]+ [0-9.]+$'
if [ "$prev" != "$cur" ]; then pass "logs --previous differs from the current instance"
else fail "logs --previous differs from the current instance" "both '$prev'"; fi
done_testing
