#!/usr/bin/env bash
# bench-serve.sh: audited reads through "keysmith serve" (docs/benchmarks.md,
# "Server"). 64 concurrent clients over TLS on 127.0.0.1, every read audited
# (one vault commit each): GetSecret/s with p50/p99, GetSecrets of 20 names,
# server peak memory; and pgbench -N with 64 clients on a throw-away
# PostgreSQL (scripts/pg-test-cluster.sh) in the same run as the floor.
# Usage: scripts/bench-serve.sh [SECONDS]   (default 10 per measurement)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
work=$(mktemp -d)
pgdir=""
srv=""
cleanup() {
  [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
  [ -n "$pgdir" ] && scripts/pg-test-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work XDG_CONFIG_HOME=$work/cfg XDG_DATA_HOME=$work/data
CGO_ENABLED=0 go build -trimpath -o "$work/keysmith" .
CGO_ENABLED=0 go build -trimpath -o "$work/loadgen" ./scripts/loadgen
ks="$work/keysmith"
keys="$work/keys"
"$ks" key generate --key-file "$keys" -q
"$ks" vault init --key-file "$keys" -q
"$ks" token create --service bench --key-file "$keys" > "$work/tok"
"$ks" token approve "$(cut -c6-21 "$work/tok")" --key-file "$keys" -q
for i in $(seq 1 20); do
  "$ks" vault put "S$i" --value "value-$i-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" --key-file "$keys" -q
  "$ks" access grant bench "S$i" --key-file "$keys" -q
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$ks" serve --listen "127.0.0.1:$port" --key-file "$keys" -q > "$work/server.log" &
srv=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
fp=$("$ks" serve --fingerprint --listen "127.0.0.1:$port")
one=$("$work/loadgen" -server "127.0.0.1:$port" -fingerprint "$fp" -token-file "$work/tok" -clients 64 -duration "${secs}s" -names 1)
twenty=$("$work/loadgen" -server "127.0.0.1:$port" -fingerprint "$fp" -token-file "$work/tok" -clients 64 -duration "${secs}s" -names 20)
rss=$(awk '/VmHWM/ {print $2}' /proc/$srv/status)
kill -TERM "$srv"; wait "$srv" || true; srv=""
pgb=""
if command -v pgbench >/dev/null || ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1; then
  pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)")
  pgdir=$(mktemp -d)
  url=$(scripts/pg-test-cluster.sh start "$pgdir")
  "$pgbin/pgbench" -i -q -s 10 "$url" >/dev/null 2>&1
  pgb=$("$pgbin/pgbench" -N -c 64 -j 2 -T "$secs" "$url" 2>/dev/null | awk -F'= ' '/^tps/ {split($2,a," "); print a[1]}')
fi
echo "GetSecret: $one"
echo "GetSecrets(20): $twenty"
echo "server peak RSS: $rss kB"
echo "pgbench -N -c 64 tps: ${pgb:-not run}"
