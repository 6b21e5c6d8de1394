# Shell helpers for the benchmarks that run a real node inside a network namespace of
# their own (bench/batch/run.sh, bench/pods/run.sh). Source it after setting T (the
# run's temp dir), NS (the namespace's name) and CG (the cgroup parent); it sets the
# EXIT trap, which removes everything the run made:
#   the server (SERVER_PID) stopped first, every container under the runc roots in
#   BENCH_RUNC_ROOTS ($T/run/runc unless changed) deleted, then bench_cleanup_more
#   (if the script defines it), mounts under $T unmounted, the cgroups named like CG
#   removed, the namespace deleted and $T removed.
# bench_netns [IP]: creates the namespace with lo up and, given IP, an eth0 with IP/24
# (a veth pair kept inside the namespace).
SERVER_PID=
BENCH_RUNC_ROOTS=("$T/run/runc")

bench_cleanup() {
	local r id d
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	for r in "${BENCH_RUNC_ROOTS[@]}"; do
		[ -d "$r" ] || continue
		# several at a time: one after the other, bench/batch's 400 exited containers
		# took minutes on a loaded machine
		runc --root "$r" list -q 2>/dev/null | xargs -r -P 8 -n 1 runc --root "$r" delete --force >/dev/null 2>&1
	done
	declare -F bench_cleanup_more >/dev/null && bench_cleanup_more
	grep -o " $T/[^ ]*" /proc/mounts | sort -r | while read -r d; do umount -l "$d" 2>/dev/null; done
	for d in $(find /sys/fs/cgroup -maxdepth 2 -type d -name "${CG#/}" 2>/dev/null); do
		find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	ip netns delete "$NS" 2>/dev/null
	rm -rf "$T"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_netns() {
	ip netns add "$NS" || return 1
	ip -n "$NS" link set lo up
	[ -n "${1:-}" ] || return 0
	ip -n "$NS" link add eth0 type veth peer name eth0peer
	ip -n "$NS" addr add "$1/24" dev eth0
	ip -n "$NS" link set eth0peer up
	ip -n "$NS" link set eth0 up
}
