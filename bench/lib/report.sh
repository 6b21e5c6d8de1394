# The summary of `make bench` (bench/run.sh): each benchmark, besides its own
# report, hands its headline figures to bench_row; bench/run.sh prints them as one
# table (figure, anchor, ratio, goal, met) and writes them as JSON
# (build/bench/results.json) so that runs can be compared. Outside bench/run.sh
# (BENCH_ROWS unset) it does nothing.

# bench_row BENCH WHAT FIGURE UNIT ANCHOR ANCHOR_NAME BETTER [GOAL]
#   BETTER is "higher" (rates: ratio = figure / anchor) or "lower" (times, sizes:
#   ratio = anchor / figure), so a ratio of 1.00 is at the anchor and above beats it.
#   An empty or "-" FIGURE or ANCHOR makes the ratio "-".
#   GOAL (optional) is the target for this row, so the table says whether it
#   is met: ">= N" or "<= N" compares FIGURE with N (in UNIT; words after N are
#   notes), ">= Kx" or "<= Kx" compares FIGURE with K times ANCHOR (e.g. "<= 1.5x
#   floor"). met is yes or no; "-" when there is no goal, no figure, or the goal is
#   not a number (e.g. "constant memory": read the benchmark's own report).
bench_row() {
	[ -n "${BENCH_ROWS:-}" ] || return 0
	local ratio met
	ratio=$(awk -v f="$3" -v a="$5" -v b="$7" 'BEGIN {
		if (f == "" || a == "" || f == "-" || a == "-" || f + 0 == 0 || a + 0 == 0) { print "-"; exit }
		printf "%.2f", (b == "lower") ? a / f : f / a }')
	met=$(bench_goal_met "$3" "$5" "${8:-}")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "$7" "$ratio" \
		"${8:--}" "$met" >>"$BENCH_ROWS"
}

# bench_goal_met FIGURE ANCHOR GOAL: yes, no or - (see bench_row)
bench_goal_met() {
	awk -v f="$1" -v a="$2" -v g="$3" 'BEGIN {
		if (!match(g, /^ *(>=|<=) *[0-9][0-9,]*(\.[0-9]+)? *x?/)) { print "-"; exit }
		s = substr(g, RSTART, RLENGTH); gsub(/[ ,]/, "", s)
		op = substr(s, 1, 2); s = substr(s, 3)
		rel = (s ~ /x$/); sub(/x$/, "", s); n = s + 0
		if (f == "" || f == "-" || f !~ /^-?[0-9.]+$/) { print "-"; exit }
		if (rel) {
			if (a == "" || a == "-" || a !~ /^-?[0-9.]+$/) { print "-"; exit }
			n *= a
		}
		print ((op == ">=" && f + 0 >= n) || (op == "<=" && f + 0 <= n)) ? "yes" : "no" }'
}
