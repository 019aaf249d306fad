#!/usr/bin/env bash
# pg-test-cluster.sh: a private, throw-away PostgreSQL cluster for keysmith's
# PostgreSQL tests and benchmarks (Debian's postgresql package: initdb,
# pg_ctl). Used by .ci/run and scripts/bench-vault.sh, and by developers:
#
#   dir=$(mktemp -d)
#   export KEYSMITH_TEST_POSTGRES=$(scripts/pg-test-cluster.sh start "$dir")
#   go test ./...
#   scripts/pg-test-cluster.sh stop "$dir"
#
# start DIR   initdb into DIR/data, start the server on a free port of
#             127.0.0.1 only (unix socket in DIR, TLS on with a CA made here),
#             create the role and database "keysmith" (password
#             authentication, CREATEDB so tests make a database each) and
#             print the URL (also written to DIR/url).
# stop DIR    stop the server (fast shutdown) and remove DIR.
# restart DIR stop and start the server again on the same port (fault tests).
# psql DIR    a superuser psql on the unix socket (extra arguments passed on).
#
# The server refuses to run as root: as root the cluster belongs to user
# "postgres" (the Debian package creates it) and every server command runs
# through runuser.
set -euo pipefail

usage() { echo "usage: $0 {start|stop|restart|psql} DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
if [ -z "$bindir" ]; then
	p=$(command -v initdb || true)
	[ -n "$p" ] && bindir=$(dirname "$(readlink -f "$p")")
fi
[ -n "$bindir" ] || { echo "$0: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() { # port
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $1 -k $dir" start >/dev/null
}

case $cmd in
start)
	mkdir -p "$dir"
	[ -z "$(ls -A "$dir")" ] || { echo "$0: $dir is not empty" >&2; exit 1; }
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	chmod 700 "$dir"
	pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s\n' "$pw" >"$dir/pwfile"
	[ "$(id -u)" = 0 ] && chown postgres "$dir/pwfile"
	as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
		--pwfile="$dir/pwfile" -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	# TLS: a CA and a server certificate for 127.0.0.1 / localhost, so the URL
	# can say sslmode=verify-full as production does.
	if command -v openssl >/dev/null; then
		(
			cd "$dir"
			openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=keysmith-test-ca \
				-keyout ca.key -out ca.crt >/dev/null 2>&1
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
				-keyout data/server.key -out server.csr >/dev/null 2>&1
			printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
			openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext \
				-out data/server.crt >/dev/null 2>&1
			chmod 600 data/server.key
			[ "$(id -u)" = 0 ] && chown postgres data/server.key data/server.crt ca.crt
			cat >>data/postgresql.conf <<-EOF
				ssl = on
				ssl_cert_file = 'server.crt'
				ssl_key_file = 'server.key'
			EOF
		)
		ssl="sslmode=verify-full&sslrootcert=$dir/ca.crt"
	else
		ssl="sslmode=disable"
	fi
	cat >>"$dir/data/postgresql.conf" <<-EOF
		max_connections = 200
		fsync = on
		log_min_messages = warning
	EOF
	started=""
	for _ in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		port_free "$port" || continue
		if start_server "$port" 2>>"$dir/start.err"; then started=$port; break; fi
	done
	[ -n "$started" ] || { cat "$dir/start.err" "$dir/server.log" >&2 2>/dev/null; exit 1; }
	echo "$started" >"$dir/port"
	as_owner "$bindir/psql" -h "$dir" -p "$started" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 >/dev/null <<-EOF
		CREATE ROLE keysmith LOGIN CREATEDB PASSWORD '$pw';
		GRANT pg_signal_backend TO keysmith;
		CREATE DATABASE keysmith OWNER keysmith;
	EOF
	url="postgres://keysmith:$pw@127.0.0.1:$started/keysmith?$ssl"
	printf '%s\n' "$url" >"$dir/url"
	printf '%s\n' "$url"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 ||
			as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
restart)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m "${1:-fast}" -w stop >/dev/null
	start_server "$(cat "$dir/port")"
	;;
psql)
	as_owner "$bindir/psql" -h "$dir" -p "$(cat "$dir/port")" -U postgres -d "${PGDATABASE:-keysmith}" "$@"
	;;
*) usage ;;
esac
