#!/usr/bin/env bash
# bench-getsecrets.sh: GetSecret against GetSecrets of 20 names through
# "keysmith serve" (docs/benchmarks.md, "GetSecrets batched"), for the
# binary built at REV ("old") and the one built from the working tree
# ("new"), back to back in each round, on SQLite and on PostgreSQL (a
# throw-away cluster, scripts/pg-test-cluster.sh): 64 clients over TLS on
# 127.0.0.1, as scripts/bench-serve.sh sets up. Each line is one
# measurement; compare within a round.
# Usage: scripts/bench-getsecrets.sh REV [SECONDS] [ROUNDS]   (default 8 s, 3 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: scripts/bench-getsecrets.sh REV [SECONDS] [ROUNDS]}
secs=${2:-8}; rounds=${3:-3}
work=$(mktemp -d); pgdir=""; srv=""
cleanup() {
  [ -n "$srv" ] && kill -TERM "$srv" 2>/dev/null && wait "$srv" 2>/dev/null || true
  [ -n "$pgdir" ] && scripts/pg-test-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)"
B=$work/bin
mkdir -p "$B/src"
git archive "$rev" | tar -x -C "$B/src"
(cd "$B/src" && CGO_ENABLED=0 go build -trimpath -o "$B/keysmith.old" .)
CGO_ENABLED=0 go build -trimpath -o "$B/keysmith.new" .
CGO_ENABLED=0 go build -trimpath -o "$B/loadgen" ./scripts/loadgen
export HOME=$work XDG_CONFIG_HOME=$work/cfg XDG_DATA_HOME=$work/data
unset KEYSMITH_VAULT KEYSMITH_MASTER_KEY KEYSMITH_KEY_FILE KEYSMITH_TENANT KEYSMITH_ENV
ks=$B/keysmith.new; keys=$work/keys
"$ks" key generate --key-file "$keys" -q
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)")
pgdir=$(mktemp -d)
pgurl=$(scripts/pg-test-cluster.sh start "$pgdir")
"$pgbin/psql" -q "$pgurl" -c 'CREATE SCHEMA ks'
ksurl="$pgurl&search_path=ks"
setup() {
  local v=$2
  "$ks" vault init --vault "$v" --key-file "$keys" -q
  "$ks" token create --service bench --vault "$v" --key-file "$keys" > "$work/tok.$1"
  "$ks" token approve "$(cut -c6-21 "$work/tok.$1")" --vault "$v" --key-file "$keys" -q
  for i in $(seq 1 20); do
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' | "$ks" vault put "S$i" --vault "$v" --key-file "$keys" -q
    "$ks" access grant bench "S$i" --vault "$v" --key-file "$keys" -q
  done
}
measure() {
  local st=$1 v=$2 bin=$3 port fp one twenty
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$B/keysmith.$bin" serve --listen "127.0.0.1:$port" --vault "$v" --key-file "$keys" -q > "$work/server.log" &
  srv=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
  fp=$("$ks" serve --fingerprint --listen "127.0.0.1:$port")
  one=$("$B/loadgen" -server "127.0.0.1:$port" -fingerprint "$fp" -token-file "$work/tok.$st" -clients 64 -duration "${secs}s" -names 1)
  twenty=$("$B/loadgen" -server "127.0.0.1:$port" -fingerprint "$fp" -token-file "$work/tok.$st" -clients 64 -duration "${secs}s" -names 20)
  kill -TERM "$srv"; wait "$srv" || true; srv=""
  echo "$st $bin GetSecret: $one"
  echo "$st $bin GetSecrets(20): $twenty"
}
setup sqlite "$work/vault.db"
setup postgres "$ksurl"
for r in $(seq 1 "$rounds"); do
  echo "round $r $(date -u +%H:%M:%S) ($(uptime | sed 's/.*load average: //'))"
  for bin in old new; do
    measure sqlite "$work/vault.db" $bin
    measure postgres "$ksurl" $bin
  done
done
echo "end $(date -u +%H:%M:%S) ($(uptime | sed 's/.*load average: //'))"
"$ks" vault verify --vault "$work/vault.db" --key-file "$keys" >/dev/null && echo "sqlite vault verify: ok"
"$ks" vault verify --vault "$ksurl" --key-file "$keys" >/dev/null && echo "postgres vault verify: ok"
