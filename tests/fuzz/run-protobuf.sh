#!/bin/sh
# Builds tests/fuzz/fuzz_protobuf.c with clang's libFuzzer + ASan + UBSan into
# build/fuzz/ and runs it for SECONDS (default 30) from the seed corpus in
# tests/unit/api/data. Set PROTOBUF_C_C to protobuf-c's protobuf-c/protobuf-c.c (the
# version of the installed headers) to instrument protobuf-c's parser as well;
# otherwise the system libprotobuf-c is linked uninstrumented.
# Not part of `make all` or tests/run.sh. Needs clang (apt-get install clang).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-30}
make -s build/gen/k8s.pb-c.c
mkdir -p build/fuzz/corpus-protobuf
if [ -n "${PROTOBUF_C_C:-}" ]; then
	# ASan and coverage only: protobuf-c 1.4 shifts into int's sign bit when
	# parsing 5-byte tags (protobuf-c.c parse_tag_and_wiretype), which UBSan flags
	clang -g -O1 -fsanitize=fuzzer-no-link,address -c -o build/fuzz/protobuf-c.o \
		-I"$(dirname "$PROTOBUF_C_C")/.." "$PROTOBUF_C_C"
	pbc=build/fuzz/protobuf-c.o pblib=""
else
	pbc="" pblib=$(pkg-config --libs libprotobuf-c)
fi
# shellcheck disable=SC2086
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-std=gnu11 -D_GNU_SOURCE -Iinclude -Ibuild/gen \
	$(pkg-config --cflags libcjson libprotobuf-c) \
	-o build/fuzz/fuzz_protobuf tests/fuzz/fuzz_protobuf.c pkg/api/protobuf.c \
	build/gen/k8s.pb-c.c pkg/util/*.c $pbc $pblib $(pkg-config --libs libcjson) -lpthread
exec build/fuzz/fuzz_protobuf -max_total_time="$secs" -max_len=4096 \
	-artifact_prefix=build/fuzz/ \
	build/fuzz/corpus-protobuf tests/unit/api/data
