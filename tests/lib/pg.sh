# PostgreSQL for tests: Debian's postgresql-15 binaries, a cluster of the test's own
# in a temp dir (data dir + unix socket dir), on 127.0.0.1 at a free port, stopped
# and removed on exit. initdb and pg_ctl refuse root: they run as `postgres`.
# Source after lib.sh. pg_start sets PG_ENDPOINT (a postgres:// URL) and PG_PORT.
# PG_NETNS=NS and PG_HOST=ADDR before pg_start: PostgreSQL runs inside the test's
# network namespace NS and listens on ADDR (an address of that namespace) instead,
# trusting clients on ADDR's /24 (PG_HBA_CIDR to name another network).
# pg_restart: stops it (fast shutdown) and starts it again on the same data and port.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

pg_stop() {
	[ -n "${PG_DIR:-}" ] || return 0
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$PG_DIR"
	PG_DIR=
}

pg_start() {
	[ -x "$PG_BIN/initdb" ] || { echo "pg_start: $PG_BIN/initdb missing (scripts/deps.sh test)"; return 1; }
	id postgres >/dev/null 2>&1 || { echo "pg_start: no postgres user (postgresql-15)"; return 1; }
	PG_DIR=$(mktemp -d /tmp/minik8s-pg.XXXXXX)
	on_exit pg_stop
	chown postgres: "$PG_DIR"
	runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U postgres \
		--no-sync --locale=C -E UTF8 >"$PG_DIR/initdb.log" 2>&1 ||
		{ echo "initdb failed:"; tail -5 "$PG_DIR/initdb.log"; return 1; }
	[ -n "${PG_HOST:-}" ] &&
		echo "host all all ${PG_HBA_CIDR:-$PG_HOST/24} trust" >>"$PG_DIR/data/pg_hba.conf"
	local i
	for i in 1 2 3; do
		PG_PORT=$(free_port)
		_pg_ctl_start && break
		PG_PORT=
	done
	[ -n "$PG_PORT" ] || { echo "postgres did not start:"; tail -5 "$PG_DIR/log"; return 1; }
	PG_ENDPOINT="postgres://postgres@${PG_HOST:-127.0.0.1}:$PG_PORT/postgres?sslmode=disable"
}

_pg_ctl_start() {
	local in=()
	[ -n "${PG_NETNS:-}" ] && in=(ip netns exec "$PG_NETNS")
	"${in[@]}" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 60 \
		-o "-c listen_addresses=${PG_HOST:-127.0.0.1} -p $PG_PORT -k $PG_DIR -c max_connections=200" \
		start >/dev/null 2>&1
}

pg_restart() {
	runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 60 stop >/dev/null 2>&1 &&
		_pg_ctl_start
}
