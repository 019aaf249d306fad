#!/usr/bin/env bash
# bench-vault-pg.sh: the vault on both stores in one run (docs/benchmarks.md,
# "Vault on PostgreSQL"; issue 11's speed targets). PostgreSQL is a
# throw-away cluster on loopback (scripts/pg-test-cluster.sh, TLS).
#  1. `keysmith vault get` as a whole process: SQLite file vs PostgreSQL
#     (median of RUNS runs each, interleaved);
#  2. audited reads (Vault.Get) and puts in one process with 1, 8 and 32
#     goroutines on each store (scripts/vaultload), and `pgbench -N` with
#     the same client counts on the same cluster as the floor (each
#     audited read is one commit, group-committed per process);
#  3. `vault copy` of N secrets (default 100,000) from SQLite into
#     PostgreSQL, verified.
# Usage: scripts/bench-vault-pg.sh [SECONDS] [N_COPY]   (default 5 s per
# load measurement, 100000 secrets). Needs PostgreSQL's server binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
ncopy=${2:-100000}
runs=${RUNS:-15}
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || { echo "bench-vault-pg.sh: needs PostgreSQL (apt-get install postgresql)" >&2; exit 1; }
pgbin=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)")
work=$(mktemp -d)
pgdir=$(mktemp -d)
cleanup() {
  scripts/pg-test-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true
  rm -rf "$work" "$pgdir"
}
trap cleanup EXIT
# The Go caches stay where they are: HOME moves to the work directory below.
export GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)"
export HOME=$work XDG_CONFIG_HOME=$work/cfg XDG_DATA_HOME=$work/data
unset KEYSMITH_VAULT KEYSMITH_KEY_FILE KEYSMITH_TENANT KEYSMITH_ENV
export KEYSMITH_MASTER_KEY=1111111111111111111111111111111111111111111111111111111111111111
CGO_ENABLED=0 go build -trimpath -o "$work/keysmith" .
CGO_ENABLED=0 go build -trimpath -o "$work/vaultload" ./scripts/vaultload
ks="$work/keysmith"

pgurl=$(scripts/pg-test-cluster.sh start "$pgdir")
"$pgbin/pgbench" -i -q -s 10 "$pgurl" >/dev/null 2>&1
schema() { "$pgbin/psql" -q "$pgurl" -c "CREATE SCHEMA $1"; echo "$pgurl&search_path=$1"; }
pgv=$(schema ks)
sqv=$work/v.db

# A vault with S1..S20 on each store.
for v in "$sqv" "$pgv"; do
  "$ks" vault init --vault "$v" -q
  for i in $(seq 1 20); do
    printf 'value-%s-0123456789abcdef' "$i" | "$ks" vault put "S$i" --vault "$v" -q
  done
done

echo "# bench-vault-pg.sh $secs $ncopy ($(date -u +%FT%TZ), $(nproc) cores, PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'))"
echo
# 1. vault get, whole process, interleaved.
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
now() { date +%s%N; }
: > "$work/get.sq"; : > "$work/get.pg"
for _ in $(seq 1 "$runs"); do
  for st in sq pg; do
    v=$sqv; [ $st = pg ] && v=$pgv
    t0=$(now); "$ks" vault get S1 --vault "$v" >/dev/null; t1=$(now)
    echo $(( (t1 - t0) / 1000 )) >> "$work/get.$st"
  done
done
gsq=$(median < "$work/get.sq"); gpg=$(median < "$work/get.pg")
echo "| vault get, whole process (median of $runs) | SQLite | PostgreSQL | ratio |"
echo "|---|---|---|---|"
awk -v a="$gsq" -v b="$gpg" 'BEGIN { printf "| `keysmith vault get S1` | %.1f ms | %.1f ms | %.2fx |\n", a/1000, b/1000, b/a }'
echo

# 2. audited reads and puts, 1/8/32 goroutines; pgbench -N floor.
load() { "$work/vaultload" -vault "$1" -clients "$2" -op "$3" -duration "${secs}s"; }
field() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d[sys.argv[1]])' "$1"; }
echo "| clients | op | SQLite calls/s (p50 / p99 ms) | PostgreSQL calls/s (p50 / p99 ms) | pgbench -N tps | PostgreSQL / pgbench |"
echo "|---|---|---|---|---|---|"
# All get cells first, then the puts: a put cell adds hundreds of versions
# per name, and a get's rollback check costs more with every version.
declare -A pgget tpsat
for c in 1 8 32; do
  tpsat[$c]=$("$pgbin/pgbench" -N -c "$c" -j 2 -T "$secs" "$pgurl" 2>/dev/null | awk -F'= ' '/^tps/ {split($2,a," "); print a[1]}')
done
for op in get put; do
  for c in 1 8 32; do
    tps=${tpsat[$c]}
    s=$(load "$sqv" "$c" "$op"); p=$(load "$pgv" "$c" "$op")
    sr=$(echo "$s" | field calls_per_s); pr=$(echo "$p" | field calls_per_s)
    [ "$op" = get ] && pgget[$c]=$pr
    printf '| %s | %s | %.0f (%s / %s), %s errors | %.0f (%s / %s), %s errors | %.0f | %s |\n' "$c" "$op" \
      "$sr" "$(echo "$s" | field p50_ms)" "$(echo "$s" | field p99_ms)" "$(echo "$s" | field errors)" \
      "$pr" "$(echo "$p" | field p50_ms)" "$(echo "$p" | field p99_ms)" "$(echo "$p" | field errors)" \
      "$tps" "$(awk -v a="$pr" -v b="$tps" 'BEGIN { printf "%.2fx", a/b }')"
  done
done
awk -v a="${pgget[1]}" -v b="${pgget[8]}" 'BEGIN { printf "\nPostgreSQL audited reads, 8 goroutines / 1: %.1fx\n\n", b/a }'

# 3. vault copy of ncopy secrets, SQLite -> PostgreSQL.
awk -v n="$ncopy" 'BEGIN { for (i = 0; i < n; i++) printf "SECRET_%06d=value-%d-0123456789abcdef\n", i, i }' > "$work/large.env"
"$ks" vault init --vault "$work/large.db" -q
"$ks" vault import-env --vault "$work/large.db" "$work/large.env" -q
dst=$(schema copydst)
t0=$(now); "$ks" vault copy --from "$work/large.db" --to "$dst" >/dev/null 2>&1; t1=$(now)
awk -v n="$ncopy" -v t=$(( (t1 - t0) / 1000000 )) 'BEGIN { printf "| vault copy, %d secrets, SQLite -> PostgreSQL, verified | %.1f s |\n", n, t/1000 }'
