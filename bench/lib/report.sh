# The summary of `make bench` (bench/run.sh): each benchmark, besides its own
# report, hands its headline figures to bench_row; bench/run.sh prints them as one
# table (figure, anchor, ratio) and writes them as JSON (build/bench/results.json)
# so that runs can be compared. Outside bench/run.sh (BENCH_ROWS unset) it does
# nothing.

# bench_row BENCH WHAT FIGURE UNIT ANCHOR ANCHOR_NAME BETTER
#   BETTER is "higher" (rates: ratio = figure / anchor) or "lower" (times, sizes:
#   ratio = anchor / figure), so a ratio of 1.00 is at the anchor and above beats it.
#   An empty or "-" FIGURE or ANCHOR makes the ratio "-".
bench_row() {
	[ -n "${BENCH_ROWS:-}" ] || return 0
	local ratio
	ratio=$(awk -v f="$3" -v a="$5" -v b="$7" 'BEGIN {
		if (f == "" || a == "" || f == "-" || a == "-" || f + 0 == 0 || a + 0 == 0) { print "-"; exit }
		printf "%.2f", (b == "lower") ? a / f : f / a }')
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$ratio" >>"$BENCH_ROWS"
}
