#!/bin/bash
# The store alone: durable creates/s and latency with 1 and 16 writers, beside plain
# SQLite with one transaction per insert (WAL, synchronous=FULL) in the same run.
set -eu
cd "$(dirname "$0")/../.."
exec build/bench/store/store_bench -n "${BENCH_STORE_OPS:-16000}"
