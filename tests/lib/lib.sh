# Shell helpers for end-to-end tests. Source it: . "$(dirname "$0")/../lib/lib.sh"
# Reports "PASS: name" / "FAIL: name: why" lines that tests/run.sh counts.
# Everything a test creates lives under $T (a temp dir) and is removed on exit,
# including on failure; servers started here are killed by PID.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# MINIK8S: the binary under test; e.g. MINIK8S=build-san/build/minik8s (make SAN=1)
# runs a script against the ASan+UBSan build
MINIK8S=$(realpath -m "${MINIK8S:-$ROOT/build/minik8s}")
T=$(mktemp -d /tmp/minik8s-e2e.XXXXXX)
: >"$T/.results"
_PIDS=()
_CLEANUPS=()

# stop_all: runs the on_exit commands and stops the processes the script started (once)
stop_all() {
	local i
	for ((i = ${#_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${_CLEANUPS[$i]}" >/dev/null 2>&1; done
	# a sanitized build gets 30 s (its leak check runs at exit), not 5, before kill -9
	local tries=50
	[ "${MINIK8S_SAN:-0}" == 1 ] && tries=300
	for p in "${_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		for _ in $(seq $tries); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	_CLEANUPS=() _PIDS=()
}
cleanup() {
	stop_all
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# on_exit CMD: run CMD at cleanup (last registered first)
on_exit() { _CLEANUPS+=("$*"); }

# Every result is also counted in $T/.results (a file, so results reported from
# subshells count too); done_testing, the last line of every e2e script, prints
# "DONE: N checks". tests/run.sh fails a script that ends without that line (it
# stopped early) or whose count differs from the PASS/FAIL lines it printed.
pass() { echo "PASS: $1"; echo p >>"$T/.results"; }
FAILED=0 # set by fail, for scripts that show logs on failure
fail() { FAILED=1; echo "FAIL: $1${2:+: $2}"; echo f >>"$T/.results"; }
done_testing() {
	[ "$MINIK8S_SAN" == 1 ] && san_check
	echo "DONE: $(wc -l <"$T/.results" 2>/dev/null || echo 0) checks"
}

# ---- sanitizer builds (make SAN=1) ----
# A binary built with ASan + UBSan writes its reports (memory errors, undefined
# behaviour, and the leaks LeakSanitizer finds at exit) into files under $SAN_DIR, not
# into the stderr of the servers, agents and shims the scripts start in the background
# (whose logs are deleted with $T). done_testing then stops everything the script
# started, so that exiting processes run their leak check, and fails the check
# no_sanitizer_report if a report file appeared. tests/run.sh gives each script its own
# MINIK8S_SAN_DIR and looks there again after the script ended. gcc's UBSan runtime
# ignores log_path, so its reports are also looked for in the logs under $T. MINIK8S_SAN=0|1
# overrides the detection (the binary carries the ASan runtime).
if [ -z "${MINIK8S_SAN:-}" ]; then
	if grep -qa __asan_init "$MINIK8S" 2>/dev/null; then MINIK8S_SAN=1; else MINIK8S_SAN=0; fi
fi
export MINIK8S_SAN
# MINIK8S_TEST_SLOW: factor on the bounded waits (wait_until), 3 for a sanitized build
[ "$MINIK8S_SAN" == 1 ] && : "${MINIK8S_TEST_SLOW:=3}"
export MINIK8S_TEST_SLOW=${MINIK8S_TEST_SLOW:-1}
if [ "$MINIK8S_SAN" == 1 ]; then
	SAN_DIR=${MINIK8S_SAN_DIR:-$T/san}
	mkdir -p "$SAN_DIR"
	# later options win: the log path and the suppressions are always ours
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:halt_on_error=1:log_path=$SAN_DIR/asan"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1:log_path=$SAN_DIR/ubsan"
	export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}print_suppressions=0:suppressions=$ROOT/tests/lsan.supp"
fi
# san_check: stops what the script started, then PASS if no sanitizer wrote a report
# (a report's first lines are shown on FAIL; the files stay in $MINIK8S_SAN_DIR)
san_check() {
	local f reports=()
	stop_all
	# gcc links UBSan as its own runtime, which ignores log_path: its reports stay on
	# the process's stderr, i.e. in the logs under $T; they are copied out from there
	local re=': runtime error: |ERROR: (Address|Leak)Sanitizer'
	grep -rlIE -D skip --exclude-dir=san "$re" "$T" 2>/dev/null | while read -r f; do
		grep -EA60 -m1 "$re" "$f" >"$SAN_DIR/stderr.${f##*/}.$RANDOM"
	done
	for f in "$SAN_DIR"/*; do [ -s "$f" ] && reports+=("$f"); done
	if [ ${#reports[@]} -eq 0 ]; then pass no_sanitizer_report; return; fi
	for f in "${reports[@]}"; do
		echo "--- sanitizer report $f"
		head -60 "$f" | sed 's/^/  /'
	done
	fail no_sanitizer_report "${#reports[@]} report(s): ${reports[*]##*/}"
}
# check NAME CMD...: PASS if CMD succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "command failed: $*"; fi; }
# expect_eq NAME GOT WANT
expect_eq() { if [ "$2" == "$3" ]; then pass "$1"; else fail "$1" "got '$2', want '$3'"; fi; }
# expect_match NAME TEXT REGEX
expect_match() { if [[ "$2" =~ $3 ]]; then pass "$1"; else fail "$1" "'$2' does not match /$3/"; fi; }

# require_tools NAME TOOL...: FAIL "NAME" and exit unless every TOOL is installed
require_tools() {
	local name=$1 tool; shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { fail "$name" "$tool missing (scripts/deps.sh)"; exit 1; }
	done
}

# free_port: a TCP port free on 127.0.0.1
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server [EXTRA_FLAGS...]: starts `minik8s server` on 127.0.0.1 with its own data
# dir; sets SERVER_PID, API (https://127.0.0.1:PORT), TOKEN, KUBECONFIG, CACERT, DATA.
start_server() {
	DATA=${DATA:-$T/data}
	PORT=${PORT:-$(free_port)}
	KUBECONFIG=$T/kubeconfig
	"$MINIK8S" server --data-dir "$DATA" --bind-address 127.0.0.1 --https-listen-port "$PORT" \
		--write-kubeconfig "$KUBECONFIG" --disable-agent "$@" >>"$T/server.log" 2>&1 &
	SERVER_PID=$!
	_PIDS+=("$SERVER_PID")
	API=https://127.0.0.1:$PORT
	CACERT=$DATA/tls/ca.crt
	local i
	for i in $(seq 100); do
		if [ -f "$KUBECONFIG" ] && curl -sf --cacert "$CACERT" "$API/healthz" >/dev/null 2>&1; then
			TOKEN=$(cat "$DATA/token")
			export KUBECONFIG
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server did not start; log:"; tail -20 "$T/server.log"
	return 1
}

# stream_fixture_start: runs $FIXTURE (tests/lib/stream_fixture: the API server, the
# agent's streaming server and the runc containers web-web and ticker-ticker) on the
# dir $W with the rootfs $W/rootfs; sets API_PORT, AGENT_PORT, TOKEN and FX (its pid).
# FAIL "setup" and exit when it does not say READY.
stream_fixture_start() {
	API_PORT=$(free_port)
	AGENT_PORT=$(free_port)
	TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	# if the fixture dies without its own cleanup, its containers go here
	on_exit "for c in web-web ticker-ticker; do runc --root '$W/runc' delete -f \$c; done"
	"$FIXTURE" "$W" "$W/rootfs" "$API_PORT" "$AGENT_PORT" "$TOKEN" >"$W/fixture.out" 2>"$W/fixture.err" &
	FX=$!
	_PIDS+=("$FX")
	local i
	for i in $(seq 150); do
		grep -q READY "$W/fixture.out" 2>/dev/null && break
		kill -0 "$FX" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q READY "$W/fixture.out"; then
		fail setup "fixture did not start: $(tail -5 "$W/fixture.err")"
		exit 1
	fi
}

# node_credential NODE: a node credential (the bearer token of system:node:NODE) asked
# for with the server's join secret, as a joining agent asks for it
node_credential() {
	curl -s --cacert "$CACERT" -H "Authorization: Bearer $(cat "$DATA/node-secret")" \
		-H 'Content-Type: application/json' -d "{\"nodeName\":\"$1\"}" \
		"$API/v1-minik8s/node-credential" | jq -r '.token // empty'
}

# stop_server [SIGNAL]: stops the server started by start_server
stop_server() {
	kill -"${1:-TERM}" "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
}

# api METHOD PATH [curl args...]: authenticated request; sets BODY and HTTP_CODE
# (call it directly, not in $(...), so the variables reach the caller)
api() {
	local m=$1 p=$2; shift 2
	HTTP_CODE=$(curl -s --cacert "$CACERT" -H "Authorization: Bearer $TOKEN" -X "$m" \
		-o "$T/.body" -w '%{http_code}' "$@" "$API$p")
	BODY=$(cat "$T/.body")
}

# ---- helpers for the API suites (api_*.sh, kubectl_compat.sh) ----

# expect_contains NAME TEXT SUBSTRING: PASS if TEXT contains SUBSTRING (no regex)
expect_contains() {
	if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1" "'${2:0:400}' does not contain '$3'"; fi
}
# api_json METHOD PATH BODY [curl args...]: api with the body text BODY, sent as
# Content-Type application/json unless the curl args set another Content-Type
api_json() {
	local m=$1 p=$2 d=$3 a ct=(-H 'Content-Type: application/json'); shift 3
	for a in "$@"; do [[ "${a,,}" == content-type:* ]] && ct=(); done
	printf '%s' "$d" >"$T/.req"
	api "$m" "$p" "${ct[@]}" --data-binary @"$T/.req" "$@"
}
# jqb FILTER: jq -r FILTER applied to $BODY of the last api call ("" if not JSON)
jqb() { jq -r "$1" <<<"$BODY" 2>/dev/null; }
# expect_code NAME WANT: the last api call answered HTTP WANT
expect_code() {
	if [ "$HTTP_CODE" == "$2" ]; then pass "$1"; else fail "$1" "HTTP $HTTP_CODE, want $2; body: ${BODY:0:300}"; fi
}
# expect_status NAME CODE REASON: the last api call answered HTTP CODE with a
# Kubernetes Status object (kind Status, apiVersion v1, status Failure, code, reason)
expect_status() {
	local got
	got=$(jq -r '[.kind, .apiVersion, .status, (.code|tostring), .reason] | join(" ")' <<<"$BODY" 2>/dev/null)
	if [ "$HTTP_CODE" == "$2" ] && [ "$got" == "Status v1 Failure $2 $3" ]; then pass "$1"
	else fail "$1" "HTTP $HTTP_CODE '${got}', want HTTP $2 'Status v1 Failure $2 $3'; body: ${BODY:0:300}"; fi
}
# wait_until TRIES CMD...: runs CMD every 0.1 s until it succeeds (at most TRIES times,
# times MINIK8S_TEST_SLOW: default 3 for a sanitized build, whose processes run several
# times slower, else 1; the bound stays a bound)
wait_until() {
	local n=$(($1 * ${MINIK8S_TEST_SLOW:-1})) i; shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
	return 1
}
# wait_empty TRIES CMD...: as wait_until, until CMD prints nothing; wait_output
# TRIES CMD...: until it prints something. (`wait_until N test -z "$(CMD)"` would
# run CMD once, before the first try, and never poll.)
_prints_nothing() { [ -z "$("$@" 2>/dev/null)" ]; }
_prints_something() { [ -n "$("$@" 2>/dev/null)" ]; }
wait_empty() { local n=$1; shift; wait_until "$n" _prints_nothing "$@"; }
wait_output() { local n=$1; shift; wait_until "$n" _prints_something "$@"; }
# server_healthy: the server process is alive and /healthz answers 200
server_healthy() {
	kill -0 "$SERVER_PID" 2>/dev/null &&
		[ "$(curl -s -m 5 --cacert "$CACERT" -o /dev/null -w '%{http_code}' "$API/healthz")" == 200 ]
}
# num_cmp A OP B: integer comparison (OP: < <= > >= ==), simply false when A or B is not
# a number (plain (( )) would abort a `set -u` script on values like "null")
num_cmp() {
	[[ "$1" =~ ^[0-9]+$ && "$3" =~ ^[0-9]+$ ]] || return 1
	case $2 in
	'<') [ "$1" -lt "$3" ] ;; '<=') [ "$1" -le "$3" ] ;; '>') [ "$1" -gt "$3" ] ;;
	'>=') [ "$1" -ge "$3" ] ;; '==') [ "$1" -eq "$3" ] ;; *) return 1 ;;
	esac
}
# k ARGS...: $KUBECTL with the test's kubeconfig (exported by start_server), a HOME
# of its own ($T/home) and its own discovery cache; sets KOUT, KERR, KRC
k() {
	KRC=0
	HOME="$T/home" timeout 40 "$KUBECTL" --cache-dir "$T/kcache" "$@" >"$T/k.out" 2>"$T/k.err" || KRC=$?
	KOUT=$(cat "$T/k.out")
	KERR=$(cat "$T/k.err")
}
# kcheck NAME ARGS...: PASS if kubectl exits 0
kcheck() {
	local n=$1; shift
	k "$@"
	if [ "$KRC" == 0 ]; then pass "$n"; else fail "$n" "kubectl $* exited $KRC: ${KERR:0:400}"; fi
}
# curl_max_time SECONDS: every later curl of this script (the api helper included) gives
# up after SECONDS, so a server that stops answering fails the test instead of hanging it
curl_max_time() { printf 'max-time = %s\n' "$1" >"$T/.curlrc"; export CURL_HOME=$T; }

# ---- fixtures built once per suite run ----
# tests/run.sh sets MINIK8S_TEST_CACHE (a dir of its run, removed at its end): a
# fixture that many scripts build the same way (the same command on the same tree) is
# built there by the first script that asks, under a lock, and the others get hard
# links to its files. Without MINIK8S_TEST_CACHE (a script run by hand) each script
# builds its own. The files are shared: import or read them, never change them in place.
# test_cached KEY DEST CMD...: runs `CMD... DIR` (CMD writes its files into DIR) once
# per run for KEY; DEST then holds the files. CMD's output goes to this function's.
test_cached() {
	local key=$1 dest=$2 c=${MINIK8S_TEST_CACHE:-}; shift 2
	if [ -z "$c" ]; then "$@" "$dest"; return; fi
	mkdir -p "$c" "$dest" || return 1
	(
		flock 9 || exit 1
		[ -e "$c/$key.ok" ] && exit 0
		rm -rf "${c:?}/$key"
		"$@" "$c/$key" && touch "$c/$key.ok"
	) 9>"$c/$key.lock" || return 1
	cp -al "$c/$key/." "$dest/"
}
# lab_images DIR: the ClusterIP lab's images (examples/images/build.sh: echo.tar,
# jumpbox.tar) in DIR
lab_images() { test_cached lab-images "$1" bash "$ROOT/examples/images/build.sh" --out; }
# test_images DIR OUTSIDE: tests/lib/mkimage.sh's fixtures in DIR, the escape fixtures
# aimed at OUTSIDE; with a cache, at the cache's own dir instead: take from it only
# the fixtures that do not name OUTSIDE (busybox-oci.tar, for one)
test_images() {
	if [ -z "${MINIK8S_TEST_CACHE:-}" ]; then bash "$ROOT/tests/lib/mkimage.sh" "$1" "$2"; return; fi
	test_cached mkimage "$1" _test_images_build
}
_test_images_build() {
	mkdir -p "$MINIK8S_TEST_CACHE/outside" && bash "$ROOT/tests/lib/mkimage.sh" "$1" "$MINIK8S_TEST_CACHE/outside"
}
