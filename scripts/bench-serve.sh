#!/usr/bin/env bash
# bench-serve.sh: audited reads through "keysmith serve" (docs/benchmarks.md,
# "Server"), on each store: SQLite, and PostgreSQL on a throw-away cluster
# (scripts/pg-test-cluster.sh). 64 concurrent clients over TLS on 127.0.0.1,
# every read audited (one vault commit each, group-committed): GetSecret/s
# with p50/p99, GetSecrets of 20 names, server peak memory; and pgbench -N
# with 64 clients on the same cluster in the same run as the floor.
# Usage: scripts/bench-serve.sh [SECONDS] [ROUNDS]   (default 10 s per
# measurement, 1 round; with several rounds the stores and the floor are
# interleaved and each line is one round)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rounds=${2:-1}
work=$(mktemp -d)
pgdir=""
srv=""
cleanup() {
  [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
  [ -n "$pgdir" ] && scripts/pg-test-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# The Go caches stay where they are: HOME moves to the work directory below.
export GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)"
export HOME=$work XDG_CONFIG_HOME=$work/cfg XDG_DATA_HOME=$work/data
unset KEYSMITH_VAULT KEYSMITH_MASTER_KEY KEYSMITH_KEY_FILE KEYSMITH_TENANT KEYSMITH_ENV
CGO_ENABLED=0 go build -trimpath -o "$work/keysmith" .
CGO_ENABLED=0 go build -trimpath -o "$work/loadgen" ./scripts/loadgen
ks="$work/keysmith"
keys="$work/keys"
"$ks" key generate --key-file "$keys" -q

pgbin=""
if ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)")
  pgdir=$(mktemp -d)
  pgurl=$(scripts/pg-test-cluster.sh start "$pgdir")
  "$pgbin/pgbench" -i -q -s 10 "$pgurl" >/dev/null 2>&1
  # The vault gets its own schema beside pgbench's tables in public.
  "$pgbin/psql" -q "$pgurl" -c 'CREATE SCHEMA ks'
  ksurl="$pgurl&search_path=ks"
fi

# setup STORE VAULT: a vault with 20 secrets granted to one approved token.
setup() {
  local v=$2
  "$ks" vault init --vault "$v" --key-file "$keys" -q
  "$ks" token create --service bench --vault "$v" --key-file "$keys" > "$work/tok.$1"
  "$ks" token approve "$(cut -c6-21 "$work/tok.$1")" --vault "$v" --key-file "$keys" -q
  for i in $(seq 1 20); do
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' |
      "$ks" vault put "S$i" --vault "$v" --key-file "$keys" -q
    "$ks" access grant bench "S$i" --vault "$v" --key-file "$keys" -q
  done
}

# measure STORE VAULT: prints one line per measurement.
measure() {
  local st=$1 v=$2 port fp one twenty rss
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$ks" serve --listen "127.0.0.1:$port" --vault "$v" --key-file "$keys" -q > "$work/server.$st.log" &
  srv=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  fp=$("$ks" serve --fingerprint --listen "127.0.0.1:$port")
  one=$("$work/loadgen" -server "127.0.0.1:$port" -fingerprint "$fp" -token-file "$work/tok.$st" -clients 64 -duration "${secs}s" -names 1)
  twenty=$("$work/loadgen" -server "127.0.0.1:$port" -fingerprint "$fp" -token-file "$work/tok.$st" -clients 64 -duration "${secs}s" -names 20)
  rss=$(awk '/VmHWM/ {print $2}' /proc/$srv/status)
  kill -TERM "$srv"; wait "$srv" || true; srv=""
  echo "$st GetSecret: $one"
  echo "$st GetSecrets(20): $twenty"
  echo "$st server peak RSS: $rss kB"
}

setup sqlite "$work/vault.db"
[ -n "$pgbin" ] && setup postgres "$ksurl"
for r in $(seq 1 "$rounds"); do
  echo "round $r ($(uptime | sed 's/.*load average: //'))"
  measure sqlite "$work/vault.db"
  if [ -n "$pgbin" ]; then
    measure postgres "$ksurl"
    pgb=$("$pgbin/pgbench" -N -c 64 -j 2 -T "$secs" "$pgurl" 2>/dev/null | awk -F'= ' '/^tps/ {split($2,a," "); print a[1]}')
    echo "pgbench -N -c 64 tps: $pgb"
  else
    echo "pgbench -N -c 64 tps: not run (no PostgreSQL server binaries)"
  fi
done
