#!/bin/bash
# Runs the whole test suite: every Check unit binary and every end-to-end script.
# Each e2e script prints "PASS: name" / "FAIL: name" lines (tests/lib/lib.sh) and
# ends with done_testing ("DONE: N checks"), which the runner checks.
# Ends with the summary line "N passed, N failed". Exit status 0 only if none failed.
# Usage: tests/run.sh [PATTERN]   (PATTERN filters test files by substring)
# MINIK8S_TEST_JOBS=N: N jobs at a time (default 2; 1 runs them one by one), a job being
# an e2e script or the unit binaries (all of them, one after the other, as one job).
set -u
cd "$(dirname "$0")/.."
pattern=${1:-}
passed=0 failed=0
failures=()
log_dir=$(mktemp -d /tmp/minik8s-tests.XXXXXX)

# A sanitized build (make SAN=1; its binaries carry the ASan runtime) runs several times
# slower: every Check test forks, and each forked child runs LeakSanitizer's scan at its
# exit. Its limits are scaled by MINIK8S_TEST_SLOW (default 3 there, else 1): the
# runner's limit per unit binary and Check's per-test timeouts (CK_TIMEOUT_MULTIPLIER,
# which also scales the suites' own tcase_set_timeout values).
if grep -qa __asan_init build/minik8s 2>/dev/null; then : "${MINIK8S_TEST_SLOW:=3}"; fi
slow=${MINIK8S_TEST_SLOW:-1}
# units_all: every Check unit binary, one after the other (a job of the pool below,
# beside the e2e scripts); prints its lines and writes "PASSED FAILED [FAILING...]"
# to $log_dir/units.verdict at its end
units_all() {
	local bin name out rc line checks fails errs bad passed=0 failed=0 failures=()
	for bin in "${units[@]}"; do
		name=$(basename "$bin")
		out="$log_dir/$name.log"
		CK_FORK=yes CK_DEFAULT_TIMEOUT=60 CK_TIMEOUT_MULTIPLIER=$slow timeout $((600 * slow)) "$bin" >"$out" 2>&1
		rc=$?
		line=$(grep -E '^[0-9]+%: Checks: ' "$out" | tail -1)
		if [ -z "$line" ]; then
			echo "FAIL: $name (exit $rc, no Check summary)"; tail -20 "$out"
			failed=$((failed + 1)); failures+=("$name"); continue
		fi
		checks=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
		fails=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
		errs=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
		bad=$((fails + errs))
		passed=$((passed + checks - bad)); failed=$((failed + bad))
		if [ "$bad" -gt 0 ]; then
			grep -E ':[EF]:' "$out" | head -20
			failures+=("$name")
		fi
		echo "unit $name: $((checks - bad)) passed, $bad failed"
	done
	echo "$passed $failed ${failures[*]}" >"$log_dir/units.verdict.tmp"
	mv "$log_dir/units.verdict.tmp" "$log_dir/units.verdict"
}
units=()
for bin in build/tests/unit-*; do
	[ -x "$bin" ] || continue
	[[ -n "$pattern" && "$bin" != *"$pattern"* ]] && continue
	units+=("$bin")
done

# e2e_one SCRIPT: runs it, writes its log and its verdict "P F SECONDS" beside it
e2e_one() {
	local t=$1 name out start rc p f done_line n_san
	name=$(basename "$t" .sh)
	out="$log_dir/e2e-$name.log"
	start=$(date +%s)
	MINIK8S_SAN_DIR="$log_dir/san-$name" timeout 900 bash "$t" >"$out" 2>&1
	rc=$?
	p=$(grep -c '^PASS: ' "$out"); f=$(grep -c '^FAIL: ' "$out")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name exited $rc without reporting a failure" >>"$out"; f=1
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name ran no test" >>"$out"; f=1
	fi
	# the script's own count (tests/lib/lib.sh done_testing): missing means it
	# stopped before its end; a different count means results went unreported
	done_line=$(grep -E '^DONE: [0-9]+ checks$' "$out" | tail -1)
	if [ -z "$done_line" ]; then
		echo "FAIL: $name stopped before its end (no DONE line; exit $rc)" >>"$out"; f=$((f + 1))
	elif [ "$(sed -E 's/^DONE: ([0-9]+) checks$/\1/' <<<"$done_line")" -ne $(( $(grep -c '^PASS: ' "$out") + $(grep -c '^FAIL: ' "$out") )) ]; then
		echo "FAIL: $name counted ${done_line#DONE: } but printed $p PASS and $f FAIL lines" >>"$out"; f=$((f + 1))
	fi
	# a sanitized build (make SAN=1): a report written after the script's own check
	# (tests/lib/lib.sh san_check), by a process that exited during the cleanup
	n_san=$(ls "$log_dir/san-$name" 2>/dev/null | wc -l)
	if [ "$n_san" -gt 0 ] && ! grep -q '^FAIL: no_sanitizer_report' "$out"; then
		echo "FAIL: $name: sanitizer report(s) after its end in $log_dir/san-$name" >>"$out"
		head -60 "$log_dir/san-$name"/* | sed 's/^/  /' >>"$out"; f=$((f + 1))
	fi
	echo "$p $f $(( $(date +%s) - start ))" >"$out.verdict"
}

# e2e_report SCRIPT: adds its verdict to the totals and prints it
e2e_report() {
	local name out p f secs
	name=$(basename "$1" .sh)
	out="$log_dir/e2e-$name.log"
	read -r p f secs <"$out.verdict"
	passed=$((passed + p)); failed=$((failed + f))
	echo "e2e $name: $p passed, $f failed (${secs}s)"
	if [ "$f" -gt 0 ]; then
		failures+=("$name")
		grep -E '^FAIL: ' "$out" | head -20
		echo "--- last lines of $out"; tail -30 "$out"; echo "---"
	fi
}

# The e2e scripts run MINIK8S_TEST_JOBS at a time (default 2), the unit binaries being
# one more job, the first: each keeps to its own namespaces, temp dir, ports and
# cgroups, and most of their time is spent waiting on pods and timers. A script whose
# head says "# test: alone" (it measures load or limits, or fills the machine) runs
# with nothing beside it, at the end. The others start longest first, by
# tests/e2e-seconds.txt; the seconds of this run are written to LOG_DIR/e2e-seconds.txt
# in its format.
jobs=${MINIK8S_TEST_JOBS:-2}
# fixtures the scripts share, built once in this run (tests/lib/lib.sh test_cached)
export MINIK8S_TEST_CACHE=$log_dir/cache
together=() alone=()
for t in tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	[[ -n "$pattern" && "$t" != *"$pattern"* ]] && continue
	if head -30 "$t" | grep -q '^# test: alone'; then alone+=("$t"); else together+=("$t"); fi
done
# longest first (tests/e2e-seconds.txt; a script not listed there counts as longest), so
# that the lanes end together: with name order, a long script started last runs on
# while the other lane is idle
e2e_secs() { awk -v n="$(basename "$1" .sh)" '$1 == n { print $2; f = 1; exit } END { if (!f) print 999999 }' tests/e2e-seconds.txt 2>/dev/null || echo 999999; }
if [ ${#together[@]} -gt 1 ]; then
	mapfile -t together < <(for t in "${together[@]}"; do echo "$(e2e_secs "$t") $t"; done | sort -s -k1,1nr | cut -d' ' -f2-)
fi
# job_done ENTRY, job_report ENTRY: an entry of the pool is an e2e script or "@units"
job_done() {
	if [ "$1" == @units ]; then [ -e "$log_dir/units.verdict" ]
	else [ -e "$log_dir/e2e-$(basename "$1" .sh).log.verdict" ]; fi
}
job_report() {
	local p f names=()
	if [ "$1" != @units ]; then e2e_report "$1"; return; fi
	cat "$log_dir/units.out"
	read -r p f _ <"$log_dir/units.verdict"
	read -r -a names <"$log_dir/units.verdict"
	passed=$((passed + p)); failed=$((failed + f))
	failures+=("${names[@]:2}")
}
# report, in start order, the jobs that have finished
report_finished() {
	while [ ${#running[@]} -gt 0 ] && job_done "${running[0]}"; do
		job_report "${running[0]}"; running=("${running[@]:1}")
	done
}
# the unit binaries are the pool's first job (one lane, one binary after the other)
running=()
if [ ${#units[@]} -gt 0 ]; then
	units_all >"$log_dir/units.out" 2>&1 &
	running+=(@units)
fi
for t in "${together[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	report_finished
	e2e_one "$t" &
	running+=("$t")
done
wait
report_finished
for t in "${alone[@]}"; do
	e2e_one "$t"
	e2e_report "$t"
done

# this run's seconds per script, in the format of tests/e2e-seconds.txt
for v in "$log_dir"/e2e-*.log.verdict; do
	[ -e "$v" ] || continue
	n=${v##*/e2e-}; echo "${n%.log.verdict} $(cut -d' ' -f3 "$v")"
done | sort -k2,2nr >"$log_dir/e2e-seconds.txt"
rm -rf "$MINIK8S_TEST_CACHE"
[ ${#failures[@]} -gt 0 ] && echo "failing: ${failures[*]} (logs in $log_dir)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
