# etcd members for end-to-end tests (Debian's etcd-server). Source it after lib.sh:
#   . "$(dirname "$0")/../lib/lib.sh"; . "$(dirname "$0")/../lib/etcd.sh"
# Members keep their data under $T/etcd, are killed by PID at exit (lib.sh's _PIDS),
# and listen either on 127.0.0.1 free ports or, when ETCD_NETNS is set, inside the
# network namespaces the test made.
#
# etcd_cluster_start N: starts N members (1..5) and waits until each one answers.
#   Without ETCD_NETNS: client and peer URLs on 127.0.0.1 free ports.
#   With ETCD_NETNS=(ns0 ns1 ...) and ETCD_IPS=(addr0 addr1 ...): member i runs in
#   netns ETCD_NETNS[i] on ETCD_IPS[i]:2379 (clients) and :2380 (peers); the test
#   routes the addresses between its namespaces.
#   Sets ETCD_URLS (client URLs), ETCD_ENDPOINTS (them comma-separated, what
#   --datastore-endpoint takes) and ETCD_PIDS.
# etcd_member_kill I / etcd_member_start I: kill -9 member I / start it again on
#   its data (it catches up from the others).
# etcd_member_healthy I: member I answers /health with a leader.
# etcd_cluster_restart: every running member stopped (SIGTERM), then all started again
#   on their data; waits until each one answers.
# ETCD_TLS=1 before etcd_cluster_start: https client URLs with client certificate
#   auth; sets ETCD_CA, ETCD_CERT, ETCD_KEY (a client certificate).

ETCD_URLS=() ETCD_PIDS=() ETCD_PEERS=() ETCD_ENDPOINTS=""
: "${ETCD_TLS:=0}"

_etcd_in() { # _etcd_in I CMD...: runs CMD in member I's namespace (if any)
	local i=$1; shift
	if [ -n "${ETCD_NETNS[$i]:-}" ]; then ip netns exec "${ETCD_NETNS[$i]}" "$@"; else "$@"; fi
}

_etcd_certs() {
	local d=$T/etcd/pki ips="IP:127.0.0.1" ip
	for ip in "${ETCD_IPS[@]:-}"; do [ -n "$ip" ] && ips="$ips,IP:$ip"; done
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		K="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
		# shellcheck disable=SC2086
		openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=etcd-e2e-ca &&
			printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$ips" >srv.ext &&
			printf 'extendedKeyUsage=clientAuth\n' >cli.ext &&
			for w in srv cli; do
				# shellcheck disable=SC2086
				openssl req $K -keyout $w.key -out $w.csr -subj /CN=etcd-$w &&
					openssl x509 -req -in $w.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
						-out $w.crt -days 2 -extfile $w.ext || exit 1
			done
	) >"$d/openssl.log" 2>&1 || return 1
	ETCD_CA=$d/ca.crt ETCD_CERT=$d/cli.crt ETCD_KEY=$d/cli.key
}

etcd_member_start() {
	local i=$1 initial="" k tls=()
	for k in "${!ETCD_PEERS[@]}"; do initial="$initial${initial:+,}m$k=${ETCD_PEERS[$k]}"; done
	if [ "$ETCD_TLS" == 1 ]; then
		tls=(--cert-file "$T/etcd/pki/srv.crt" --key-file "$T/etcd/pki/srv.key"
			--trusted-ca-file "$ETCD_CA" --client-cert-auth)
	fi
	# slower heartbeats than the defaults (100/1000 ms): the test machine may be
	# loaded, and a leader lost to a late heartbeat is noise, not a finding
	# etcd itself in the background (not a function call, whose $! would be a subshell
	# that kill -9 leaves etcd running under): ETCD_PIDS[i] is etcd's pid
	local ns=()
	[ -n "${ETCD_NETNS[$i]:-}" ] && ns=(ip netns exec "${ETCD_NETNS[$i]}")
	"${ns[@]}" etcd --name "m$i" --data-dir "$T/etcd/m$i" \
		--listen-client-urls "${ETCD_URLS[$i]}" --advertise-client-urls "${ETCD_URLS[$i]}" \
		--listen-peer-urls "${ETCD_PEERS[$i]}" --initial-advertise-peer-urls "${ETCD_PEERS[$i]}" \
		--initial-cluster "$initial" --initial-cluster-token "$T" \
		--heartbeat-interval 250 --election-timeout 2500 "${tls[@]}" \
		>>"$T/etcd/m$i.log" 2>&1 &
	ETCD_PIDS[$i]=$!
	_PIDS+=("$!")
}

etcd_member_healthy() {
	local i=$1 tls=()
	[ "$ETCD_TLS" == 1 ] && tls=(--cacert "$ETCD_CA" --cert "$ETCD_CERT" --key "$ETCD_KEY")
	[ "$(_etcd_in "$i" curl -s -m 3 "${tls[@]}" "${ETCD_URLS[$i]}/health" 2>/dev/null |
		jq -r .health 2>/dev/null)" == true ]
}

etcd_member_kill() {
	local i=$1
	[ -n "${ETCD_PIDS[$i]:-}" ] || return 0
	kill -9 "${ETCD_PIDS[$i]}" 2>/dev/null
	wait "${ETCD_PIDS[$i]}" 2>/dev/null
	ETCD_PIDS[$i]=""
}

etcd_cluster_start() {
	local n=$1 i scheme=http cport pport host
	[ "$n" -ge 1 ] && [ "$n" -le 5 ] || { echo "etcd_cluster_start: 1..5 members" >&2; return 1; }
	mkdir -p "$T/etcd"
	if [ "$ETCD_TLS" == 1 ]; then
		scheme=https
		_etcd_certs || { echo "etcd: openssl failed: $(tail -3 "$T/etcd/pki/openssl.log")" >&2; return 1; }
	fi
	for ((i = 0; i < n; i++)); do
		if [ -n "${ETCD_NETNS[$i]:-}" ]; then
			host=${ETCD_IPS[$i]} cport=2379 pport=2380
		else
			host=127.0.0.1 cport=$(free_port) pport=$(free_port)
		fi
		ETCD_URLS[$i]=$scheme://$host:$cport
		ETCD_PEERS[$i]=http://$host:$pport
	done
	for ((i = 0; i < n; i++)); do etcd_member_start "$i"; done
	ETCD_ENDPOINTS=$(IFS=,; echo "${ETCD_URLS[*]}")
	for ((i = 0; i < n; i++)); do
		# bounded: 60 s for a loaded machine
		if ! wait_until 600 etcd_member_healthy "$i"; then
			echo "etcd member $i did not come up; log:" >&2
			tail -5 "$T/etcd/m$i.log" >&2
			return 1
		fi
	done
}

etcd_cluster_restart() {
	local i
	for i in "${!ETCD_URLS[@]}"; do [ -n "${ETCD_PIDS[$i]:-}" ] && kill "${ETCD_PIDS[$i]}" 2>/dev/null; done
	for i in "${!ETCD_URLS[@]}"; do
		[ -n "${ETCD_PIDS[$i]:-}" ] && wait "${ETCD_PIDS[$i]}" 2>/dev/null
		ETCD_PIDS[i]=""
	done
	for i in "${!ETCD_URLS[@]}"; do etcd_member_start "$i"; done
	for i in "${!ETCD_URLS[@]}"; do wait_until 600 etcd_member_healthy "$i" || return 1; done
}
