#!/bin/bash
# The short CI pass of the fuzz harnesses (tests/fuzz/fuzz_*.c): builds them with
# `make fuzz-build` (clang libFuzzer + ASan + UBSan, in build-fuzz/) and runs each
# for FUZZ_SHORT_SECONDS (default 10) from its seed corpus via tests/fuzz/run.sh,
# which prints PASS/FAIL per harness. The long run is `make fuzz` (1M executions each).
# Needs clang and libclang-rt-14-dev (scripts/deps.sh test).
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1
secs=${FUZZ_SHORT_SECONDS:-10}
command -v clang >/dev/null || { fail fuzz_build "clang missing (scripts/deps.sh test)"; exit 1; }
if ! make -s -j2 fuzz-build >"$T/build.log" 2>&1; then
	fail fuzz_build "$(grep -E 'error|Error' "$T/build.log" | head -5)"
	exit 1
fi
pass fuzz_build
# logs and crashing inputs in build-fuzz/short (kept after the test)
# run.sh's PASS/FAIL lines are reported through lib.sh, so they are counted
FUZZ_OUT=build-fuzz/short tests/fuzz/run.sh -max_total_time="$secs" |
	while IFS= read -r l; do
		case $l in
		"PASS: "*) pass "${l#PASS: }" ;;
		"FAIL: "*) r=${l#FAIL: }; fail "${r%%: *}" "${r#*: }" ;;
		*) echo "$l" ;;
		esac
	done
done_testing
