#!/bin/bash
# The lab's examples: the offline images (build, reproducibility, import, both
# formats), the echo server (reply line, downward-API fallbacks in a namespace of its
# own, keep-alive, concurrency, bad requests, SIGTERM), the jumpbox rootfs (curl, dig,
# bash and its web server run from the imported image), the manifests (server-side
# dry run with kubectl, created with the built-in client), the lab script (syntax,
# clear failure without a node agent, --cleanup), the systemd unit and the
# Vagrantfile (`vagrant validate`). Runs as root (chroot, overlay mounts, unshare).
. "$(dirname "$0")/../lib/lib.sh"
EX=$ROOT/examples
IMG=$T/images
IMGDATA=$T/imgdata
ECHO=/nonexistent EPORT=$(free_port)
curl_max_time 10

[ -x "$MINIK8S" ] || { fail examples_setup "build/minik8s missing (make build/minik8s)"; exit 0; }

# ---- images: build, idempotent and reproducible, import ----
if out=$(bash "$EX/images/build.sh" --out "$IMG" 2>&1); then
	pass images_build
else
	fail images_build "$(tail -5 <<<"$out")"
	exit 0
fi
sum1=$(cd "$IMG" && sha256sum echo.tar jumpbox.tar)
out2=$(bash "$EX/images/build.sh" --out "$IMG" 2>&1)
sum2=$(cd "$IMG" && sha256sum echo.tar jumpbox.tar)
if [ "$sum1" == "$sum2" ] && [ "$(grep -c unchanged <<<"$out2")" == 2 ]; then pass images_reproducible
else fail images_reproducible "second build differs: $sum1 / $sum2 / $out2"; fi

if "$MINIK8S" image --data-dir "$IMGDATA" import "$IMG/echo.tar" "$IMG/jumpbox.tar" >"$T/import.out" 2>&1; then
	ls=$("$MINIK8S" image --data-dir "$IMGDATA" ls 2>&1)
	if grep -Eq '^minik8s.local/echo +1 ' <<<"$ls" && grep -Eq '^minik8s.local/jumpbox +1 ' <<<"$ls"; then
		pass images_import
	else
		fail images_import "image ls: $ls"
	fi
else
	fail images_import "$(cat "$T/import.out")"
fi
cfg=$("$MINIK8S" image --data-dir "$IMGDATA" inspect minik8s.local/jumpbox:1 2>/dev/null | jq -c '[.cmd, .exposedPorts]')
expect_eq images_jumpbox_config "$cfg" '[["/usr/local/bin/jumpbox-httpd"],["80/tcp"]]'
cfg=$("$MINIK8S" image --data-dir "$IMGDATA" inspect minik8s.local/echo:1 2>/dev/null | jq -c '[.cmd, .exposedPorts]')
expect_eq images_echo_config "$cfg" '[["/usr/local/bin/echo-server"],["80/tcp"]]'

# the OCI layout format: valid for skopeo, and minik8s imports it by its ref.name
if bash "$EX/images/build.sh" --out "$T/oci" --format oci >"$T/oci.out" 2>&1; then
	name=$(skopeo inspect --raw oci-archive:"$T/oci/echo.tar" 2>&1 | jq -r .mediaType 2>&1)
	expect_eq images_oci_skopeo "$name" application/vnd.oci.image.manifest.v1+json
	if "$MINIK8S" image --data-dir "$T/imgdata-oci" import "$T/oci/echo.tar" >"$T/oci-import.out" 2>&1 &&
		"$MINIK8S" image --data-dir "$T/imgdata-oci" inspect minik8s.local/echo:1 >/dev/null 2>&1; then
		pass images_oci_import
	else
		fail images_oci_import "$(cat "$T/oci-import.out")"
	fi
else
	fail images_oci_build "$(tail -5 "$T/oci.out")"
fi

# mount IMAGE NAME: overlay-mounts the imported image at $T/NAME/rootfs
mount_image() {
	mkdir -p "$T/$2"
	"$MINIK8S" image --data-dir "$IMGDATA" mount "$1" "$T/$2" >/dev/null 2>&1 || return 1
	on_exit "'$MINIK8S' image --data-dir '$IMGDATA' unmount --remove '$T/$2' || umount -l '$T/$2/rootfs'"
}

# ---- the echo server, from the imported image ----
if mount_image minik8s.local/echo:1 echo; then
	ECHO=$T/echo/rootfs/usr/local/bin/echo-server
	EPORT=$(free_port)
	PORT=$EPORT LISTEN_ADDR=127.0.0.1 NODE_IP=192.168.56.11 POD_IP=10.42.1.7 POD_NAME=php-echo-7d9f-x2kq \
		"$ECHO" >"$T/echo.log" 2>&1 &
	EPID=$!
	_PIDS+=("$EPID")
	wait_until 50 curl -s -o /dev/null "http://127.0.0.1:$EPORT/" || true
	expect_eq echo_reply "$(curl -s "http://127.0.0.1:$EPORT/any/path?x=1")" \
		"node=192.168.56.11 pod=10.42.1.7 name=php-echo-7d9f-x2kq"
	# keep-alive: three requests on one connection
	n=$(curl -sv "http://127.0.0.1:$EPORT/" "http://127.0.0.1:$EPORT/" "http://127.0.0.1:$EPORT/" 2>"$T/ka.err" | grep -c '^node=')
	if [ "$n" == 3 ] && grep -q 'Re-using existing connection' "$T/ka.err"; then pass echo_keepalive
	else fail echo_keepalive "$n replies; $(grep -i connection "$T/ka.err" | head -3)"; fi
	# bad requests answer 400/405/431 and the server lives on
	bad=$(python3 - "$EPORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
def ask(data):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    got = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        got += b
    s.close()
    return got.split(b"\r\n")[0].decode(errors="replace")
print(ask(b"garbage\r\n\r\n"))
print(ask(b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n"))
print(ask(b"GET / HTTP/1.1\r\n" + b"X: " + b"a" * 10000 + b"\r\n\r\n"))
print(ask(b"GET / HTTP/9.9\r\n\r\n"))
s = socket.create_connection(("127.0.0.1", port), timeout=5); s.sendall(b"GET / HT"); s.close()
print(ask(b"GET / HTTP/1.0\r\n\r\n"))
PY
)
	expect_eq echo_bad_requests "$(tr '\n' '|' <<<"$bad")" \
		"HTTP/1.1 400 Bad Request|HTTP/1.1 405 Method Not Allowed|HTTP/1.1 431 Request Header Fields Too Large|HTTP/1.1 400 Bad Request|HTTP/1.1 200 OK|"
	# 40 concurrent clients, each holding its connection open for a moment
	seq 40 | xargs -P 40 -I{} curl -s "http://127.0.0.1:$EPORT/{}" -o "$T/conc.{}" 2>/dev/null
	n=$(cat "$T"/conc.* 2>/dev/null | grep -c '^node=192.168.56.11 ')
	expect_eq echo_concurrent "$n" 40
	# SIGTERM: exits 0 after finishing
	kill -TERM "$EPID"
	if wait_until 30 bash -c "! kill -0 $EPID 2>/dev/null"; then
		wait "$EPID"
		expect_eq echo_sigterm_exit "$?" 0
	else
		fail echo_sigterm_exit "still running 3 s after SIGTERM"
	fi
	# without the downward-API env: hostname, first non-loopback address, "unknown",
	# in a network and UTS namespace of its own with one veth pair (v0 10.99.0.7)
	fb=$(unshare -n -u bash -c '
		hostname echo-fallback-pod
		ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 10.99.0.7/24 dev v0 && ip link set v0 up || exit 1
		PORT=8080 LISTEN_ADDR=127.0.0.1 "$1" >/dev/null 2>&1 & p=$!
		for i in $(seq 50); do curl -s -m 2 http://127.0.0.1:8080/ && break; sleep 0.1; done
		kill $p; wait $p' _ "$ECHO" 2>&1)
	expect_eq echo_fallback "$fb" "node=unknown pod=10.99.0.7 name=echo-fallback-pod"
	out=$(PORT=99999 "$ECHO" 2>&1)
	expect_match echo_bad_port "$?:$out" "^2:.*PORT '99999'"
else
	fail echo_mount "minik8s image mount minik8s.local/echo:1 failed"
fi

# ---- the jumpbox rootfs: curl, dig, bash, the web server ----
if mount_image minik8s.local/jumpbox:1 jumpbox; then
	R=$T/jumpbox/rootfs
	# a container runtime provides /dev; this chroot needs /dev/null (sh's '&')
	mknod -m 666 "$R/dev/null" c 1 3
	expect_match jumpbox_curl "$(chroot "$R" /usr/bin/curl --version 2>&1 | head -1)" '^curl [0-9]'
	expect_match jumpbox_dig "$(chroot "$R" /usr/bin/dig -v 2>&1)" '^DiG 9\.'
	expect_match jumpbox_bash "$(chroot "$R" /bin/bash -c 'echo "$BASH_VERSION"' 2>&1)" '^[0-9]+\.[0-9]+'
	# names through NSS (hosts: files) and curl over loopback, as the lab's loop does
	echo "127.0.0.1 echo.test" >"$R/etc/hosts"
	PORT=$EPORT LISTEN_ADDR=127.0.0.1 NODE_IP=n1 POD_IP=p1 POD_NAME=e1 "$ECHO" >/dev/null 2>&1 &
	_PIDS+=("$!")
	wait_until 50 curl -s -o /dev/null "http://127.0.0.1:$EPORT/" || true
	got=$(chroot "$R" /bin/bash -c "for i in 1 2 3; do curl -s -m 3 echo.test:$EPORT; done" 2>&1 | sort | uniq -c | tr -s ' ')
	expect_eq jumpbox_curl_loop "$got" " 3 node=n1 pod=p1 name=e1"
	# the default command: httpd on $PORT with the welcome page; stops on SIGTERM
	JPORT=$(free_port)
	PORT=$JPORT chroot "$R" /usr/local/bin/jumpbox-httpd >/dev/null 2>&1 &
	JPID=$!
	_PIDS+=("$JPID")
	wait_until 50 curl -s -o /dev/null "http://127.0.0.1:$JPORT/" || true
	expect_match jumpbox_welcome "$(curl -s "http://127.0.0.1:$JPORT/")" '<h1>Welcome to nginx!</h1>'
	kill -TERM "$JPID"
	if wait_until 30 bash -c "! kill -0 $JPID 2>/dev/null"; then pass jumpbox_sigterm
	else fail jumpbox_sigterm "jumpbox-httpd still running 3 s after SIGTERM"; fi
	if wait_until 30 bash -c "! curl -s -m 1 -o /dev/null http://127.0.0.1:$JPORT/"; then pass jumpbox_httpd_stopped
	else fail jumpbox_httpd_stopped "httpd still answers after SIGTERM"; fi
else
	fail jumpbox_mount "minik8s image mount minik8s.local/jumpbox:1 failed"
fi

# ---- manifests and the lab script against a real API server ----
if start_server; then
	MANIFESTS=(-f "$EX/php-echo.yaml" -f "$EX/jumpbox.yaml" -f "$EX/php-echo-service.yaml")
	check manifests_namespace kubectl apply -f "$EX/namespace.yaml"
	out=$(kubectl apply --dry-run=server "${MANIFESTS[@]}" 2>&1)
	if [ $? == 0 ] && [ "$(grep -c 'server dry run' <<<"$out")" == 3 ]; then pass manifests_dry_run
	else fail manifests_dry_run "$out"; fi
	api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
	expect_code manifests_dry_run_created_nothing 404
	# the built-in client creates them for real
	out=$("$MINIK8S" kubectl apply "${MANIFESTS[@]}" 2>&1)
	expect_eq manifests_builtin_apply "$?:$(wc -l <<<"$out")" "0:3"
	api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
	expect_eq manifests_deployment "$(jqb '[.spec.replicas, .spec.template.spec.containers[0].image,
		(.spec.template.spec.containers[0].env | map(.name + "=" + .valueFrom.fieldRef.fieldPath) | join(","))] | @tsv')" \
		"$(printf '3\tminik8s.local/echo:1\tNODE_IP=status.hostIP,POD_IP=status.podIP,POD_NAME=metadata.name')"
	api GET /api/v1/namespaces/demo/services/php-echo
	expect_match manifests_service "$(jqb '.spec.type + " " + .spec.clusterIP + " " + (.spec.selector.app)')" \
		'^ClusterIP [0-9]+\.[0-9]+\.[0-9]+\.[0-9]+ php-echo$'
	"$MINIK8S" kubectl delete "${MANIFESTS[@]}" --wait=false >/dev/null 2>&1

	# the lab script: syntax, help, then a run that stops clearly at step 3 (this
	# server has no node agent, so no replica ever becomes ready), then --cleanup
	check lab_syntax bash -n "$EX/clusterip-lab.sh"
	expect_match lab_help "$(bash "$EX/clusterip-lab.sh" --help)" 'Usage: examples/clusterip-lab.sh'
	out=$(WAIT_TIMEOUT=2 timeout 60 bash "$EX/clusterip-lab.sh" 2>&1)
	rc=$?
	if [ $rc == 1 ] && grep -q 'FAILED at step 3: deployment php-echo has 0 ready replicas' <<<"$out" &&
		grep -q 'deployment.apps/php-echo created' <<<"$out"; then
		pass lab_fails_clearly_without_nodes
	else
		fail lab_fails_clearly_without_nodes "rc=$rc: $(tail -5 <<<"$out")"
	fi
	out=$(timeout 90 bash "$EX/clusterip-lab.sh" --cleanup 2>&1)
	rc=$?
	api GET /apis/apps/v1/namespaces/demo/deployments/php-echo
	if [ $rc == 0 ] && [ "$HTTP_CODE" == 404 ]; then pass lab_cleanup
	else fail lab_cleanup "rc=$rc, deployment HTTP $HTTP_CODE: $(tail -3 <<<"$out")"; fi
else
	fail manifests_server "the API server did not start"
fi

# ---- the systemd unit ----
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$T/unit"
	sed "s#/usr/local/bin/minik8s#$MINIK8S#" "$EX/minik8s.service" >"$T/unit/minik8s.service"
	out=$(systemd-analyze verify "$T/unit/minik8s.service" 2>&1)
	expect_eq systemd_unit_verify "$?:$out" "0:"
else
	expect_match systemd_unit_fields "$(cat "$EX/minik8s.service")" 'ExecStart=/usr/local/bin/minik8s up --foreground'
fi

# ---- Vagrant: `vagrant validate` with Debian's vagrant ----
if ! command -v vagrant >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >"$T/apt.log" 2>&1
fi
if command -v vagrant >/dev/null; then
	export VAGRANT_HOME=$T/vagrant-home VAGRANT_DOTFILE_PATH=$T/vagrant-dot VAGRANT_CHECKPOINT_DISABLE=1
	had_token=0
	[ -e "$ROOT/vagrant/token" ] && had_token=1
	# what the Vagrantfile documents: the machines, networks, synced folder and
	# provisioners, without a provider installed
	out=$(cd "$ROOT/vagrant" && vagrant validate --ignore-provider 2>&1)
	if [ $? == 0 ] && grep -q 'validated successfully' <<<"$out"; then pass vagrant_validate
	else fail vagrant_validate "$out"; fi
	if [ "$had_token" == 0 ] && [ -e "$ROOT/vagrant/token" ]; then
		fail vagrant_validate_no_token "validate wrote vagrant/token"
	else
		pass vagrant_validate_no_token
	fi
	expect_eq vagrant_machines "$(sed -n 's/^==> \([a-z0-9]*\): Ignoring provider config.*/\1/p' <<<"$out" | tr '\n' ' ')" \
		"server agent1 agent2 "
	# the VirtualBox provider block too: VirtualBox cannot run here, so a VBoxManage
	# that only reports a version lets vagrant load the provider and check its
	# settings; a misspelt setting in a copy must make it fail
	mkdir -p "$T/vbox" "$T/vg/vagrant"
	printf '#!/bin/sh\n[ "$1" = --version ] && { echo 7.0.14r161095; exit 0; }\nexit 1\n' >"$T/vbox/VBoxManage"
	chmod +x "$T/vbox/VBoxManage"
	out=$(cd "$ROOT/vagrant" && PATH=$T/vbox:$PATH VAGRANT_DEFAULT_PROVIDER=virtualbox vagrant validate 2>&1)
	if [ $? == 0 ]; then pass vagrant_validate_virtualbox; else fail vagrant_validate_virtualbox "$out"; fi
	cp "$ROOT/vagrant/provision.sh" "$ROOT/vagrant/kubectl.sh" "$T/vg/vagrant/"
	sed 's/vb.cpus = CPUS/vb.cpuz = CPUS/' "$ROOT/vagrant/Vagrantfile" >"$T/vg/vagrant/Vagrantfile"
	out=$(cd "$T/vg/vagrant" && PATH=$T/vbox:$PATH VAGRANT_DEFAULT_PROVIDER=virtualbox vagrant validate 2>&1)
	if [ $? != 0 ] && grep -q cpuz <<<"$out"; then pass vagrant_validate_catches_errors
	else fail vagrant_validate_catches_errors "a misspelt provider setting validated: $out"; fi
	check vagrant_provision_syntax sh -n "$ROOT/vagrant/provision.sh"
else
	fail vagrant_validate "vagrant is not installed and 'apt-get install vagrant' failed: $(tail -3 "$T/apt.log")"
fi
done_testing
