#!/bin/bash
# Pod network setup through pkg/net beside iproute2 commands (needs root).
cd "$(dirname "$0")/../.."
exec build/bench/net/net_bench "${1:-30}"
