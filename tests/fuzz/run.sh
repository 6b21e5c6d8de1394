#!/bin/bash
# Runs the libFuzzer harnesses built by `make fuzz-build` (build-fuzz/fuzz_*), one
# after the other (the machine's cores are shared), each from its seed corpus
# tests/fuzz/corpus-NAME plus the inputs it found before (build-fuzz/corpus-NAME).
# Usage: tests/fuzz/run.sh LIMIT [NAME...]
#   LIMIT: a libFuzzer option bounding each run: -runs=N or -max_total_time=SECONDS
#   NAME:  harnesses to run (dns, protobuf, request, unpack, ws, yaml); default all
# Prints one line per harness: "PASS: fuzz_NAME (R runs in S s, 0 crashes)" or
# "FAIL: fuzz_NAME: ..." with the crash summary; a crashing input is kept as
# OUT/crash-NAME-* and the log as OUT/NAME.log, OUT being $FUZZ_OUT (default
# build-fuzz). Exit 1 if any failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
limit=${1:?usage: tests/fuzz/run.sh -runs=N|-max_total_time=S [NAME...]}
shift
names=("$@")
out=${FUZZ_OUT:-build-fuzz}
mkdir -p "$out"
[ ${#names[@]} -eq 0 ] && names=(dns protobuf request unpack ws yaml)
rc=0
for n in "${names[@]}"; do
	bin=build-fuzz/fuzz_$n
	if [ ! -x "$bin" ]; then
		echo "FAIL: fuzz_$n: $bin missing (make fuzz-build)"; rc=1; continue
	fi
	case $n in
	dns) maxlen=1024 ;; unpack) maxlen=16384 ;; ws) maxlen=8192 ;; *) maxlen=4096 ;;
	esac
	mkdir -p "build-fuzz/corpus-$n"
	start=$(date +%s)
	"$bin" "$limit" -max_len="$maxlen" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/crash-$n-" "build-fuzz/corpus-$n" "tests/fuzz/corpus-$n" \
		>"$out/$n.log" 2>&1
	r=$?
	secs=$(($(date +%s) - start))
	runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$out/$n.log")
	if [ $r -eq 0 ] && [ -n "$runs" ]; then
		echo "PASS: fuzz_$n ($runs runs in ${secs}s, 0 crashes)"
	else
		echo "FAIL: fuzz_$n: exit $r after ${secs}s: $(grep -E '^(==[0-9]+==ERROR|SUMMARY)|Test unit written|runtime error' \
			"$out/$n.log" | head -4 | tr '\n' ' ')"
		rc=1
	fi
done
exit $rc
