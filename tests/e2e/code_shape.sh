#!/bin/bash
# The code's shape, as issue 16 and STYLE.md ask it: every function in pkg/ fits on
# about a screen (80 lines), or says in the comment above it why it is long ("long
# on purpose": a flat table, a switch read top to bottom). scripts/funclen.py
# measures it; one check per package, so a failure names the package and the
# functions. No daemon, no root needed: it reads the tree.
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1
for dir in pkg/*/; do
	pkg=$(basename "$dir")
	if out=$(python3 scripts/funclen.py --max 80 "$dir" 2>&1); then
		pass "functions_fit_a_screen_$pkg"
	else
		fail "functions_fit_a_screen_$pkg" "$(tr '\n' ';' <<<"$out")"
	fi
done
# the measure itself can fail: a made-up 81-line function is listed, and the
# same function with the reason comment is not
{ echo 'int f(void)'; echo '{'; for i in $(seq 79); do echo "	x($i);"; done; echo '}'; } >"$T/long.c"
expect_eq funclen_lists_a_long_function "$(python3 scripts/funclen.py "$T/long.c" | awk '{print $1, $3}')" "82 f"
{ echo '/* long on purpose: a test */'; cat "$T/long.c"; } >"$T/reason.c"
check funclen_accepts_a_reason python3 scripts/funclen.py "$T/reason.c"
done_testing
