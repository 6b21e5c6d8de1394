#!/bin/bash
# Fuzzes the DNS packet path (tests/fuzz/fuzz_dns.c: mk_dns_msg_parse and
# mk_dns_zone_answer) with libFuzzer + ASan + UBSan for a bounded time
# (DNS_FUZZ_SECONDS, default 20) from the seed corpus tests/fuzz/corpus-dns.
# Needs clang with libFuzzer (Debian: clang, libclang-rt-14-dev; scripts/deps.sh test).
# Crashes leave their input in build/fuzz/ (crash-*), printed below.
. "$(dirname "$0")/../lib/lib.sh"
cd "$ROOT" || exit 1
secs=${DNS_FUZZ_SECONDS:-20}
command -v clang >/dev/null || { fail dns_fuzz_build "clang missing (scripts/deps.sh test)"; exit 1; }
mkdir -p build/fuzz/corpus-dns
if ! clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags libcjson) \
	-o build/fuzz/fuzz_dns tests/fuzz/fuzz_dns.c pkg/dns/wire.c pkg/dns/zone.c \
	pkg/util/*.c $(pkg-config --libs libcjson gnutls libmicrohttpd) -lpthread >"$T/build.log" 2>&1; then
	fail dns_fuzz_build "$(tail -5 "$T/build.log")"; exit 1
fi
pass dns_fuzz_build
build/fuzz/fuzz_dns -max_total_time="$secs" -max_len=1024 -timeout=10 -rss_limit_mb=1024 \
	-artifact_prefix=build/fuzz/dns- build/fuzz/corpus-dns tests/fuzz/corpus-dns >"$T/fuzz.log" 2>&1
rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$T/fuzz.log")
if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
	pass "dns_fuzz ($runs runs in ${secs}s)"
else
	fail dns_fuzz "exit $rc: $(grep -E 'ERROR|SUMMARY|Test unit written' "$T/fuzz.log" | head -5)"
fi
done_testing
