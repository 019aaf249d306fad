#!/usr/bin/env bash
# bench-vault-ab.sh: the SQLite vault figures of docs/benchmarks.md for two
# revisions in the same run, interleaved, so that a change can be checked
# for a regression on a shared machine (issue 11: "the SQLite figures do not
# regress by more than 10%"). For each revision it builds keysmith and
# scripts/vaultload (CGO_ENABLED=0 -trimpath), then alternates old and new:
#  - `keysmith vault get S1` on a 20-secret vault, whole process (RUNS runs,
#    median);
#  - audited reads (Vault.Get) and puts with 1, 8 and 32 goroutines
#    (vaultload, SECONDS each), on a fresh vault per revision and op.
# It prints one markdown table: old, new and new/old per figure (medians
# over ROUNDS rounds).
# Usage: scripts/bench-vault-ab.sh OLD_REV [NEW_REV] [SECONDS] [ROUNDS]
#   (NEW_REV defaults to the working tree; 3 s, 3 rounds; RUNS=15)
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?usage: scripts/bench-vault-ab.sh OLD_REV [NEW_REV] [SECONDS] [ROUNDS]}
new=${2:-}
secs=${3:-3}
rounds=${4:-3}
runs=${RUNS:-15}
root=$PWD
work=$(mktemp -d)
cleanup() {
  git -C "$root" worktree remove --force "$work/src-old" >/dev/null 2>&1 || true
  [ -n "$new" ] && git -C "$root" worktree remove --force "$work/src-new" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

build() { # REV-or-empty NAME
  local src=$root
  if [ -n "$1" ]; then
    src=$work/src-$2
    git -C "$root" worktree add --detach -q "$src" "$1"
  fi
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$work/ks-$2" . && CGO_ENABLED=0 go build -trimpath -o "$work/vl-$2" ./scripts/vaultload)
}
build "$old" old
build "$new" new
oldname=$(git -C "$root" rev-parse --short "$old")
newname=${new:+$(git -C "$root" rev-parse --short "$new")}
newname=${newname:-"working tree ($(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet || echo '+changes'))"}

# The Go caches are resolved above; HOME moves now.
export HOME=$work XDG_CONFIG_HOME=$work/cfg XDG_DATA_HOME=$work/data
unset KEYSMITH_VAULT KEYSMITH_KEY_FILE KEYSMITH_TENANT KEYSMITH_ENV
export KEYSMITH_MASTER_KEY=1111111111111111111111111111111111111111111111111111111111111111

mkvault() { # BIN PATH: a vault of S1..S20
  rm -f "$2" "$2"-wal "$2"-shm
  "$1" vault init --vault "$2" -q
  for i in $(seq 1 20); do echo "value-$i" | "$1" vault put "S$i" --vault "$2" -q; done
}
now() { date +%s%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

declare -A res
for side in old new; do mkvault "$work/ks-$side" "$work/get-$side.db"; done
echo "# bench-vault-ab.sh $oldname vs $newname: $secs s per load cell, $rounds rounds, $runs runs per process figure ($(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
for r in $(seq 1 "$rounds"); do
  for side in old new; do
    ks=$work/ks-$side
    for _ in $(seq 1 "$runs"); do
      t0=$(now); "$ks" vault get S1 --vault "$work/get-$side.db" >/dev/null; t1=$(now)
      echo $(( (t1 - t0) / 1000 ))
    done | median > "$work/m"
    res[get-proc-$side]+="$(cat "$work/m") "
    for op in get put; do
      for c in 1 8 32; do
        v=$work/load-$side-$op-$c.db
        [ "$r" = 1 ] && mkvault "$ks" "$v"
        out=$("$work/vl-$side" -vault "$v" -op "$op" -clients "$c" -duration "${secs}s")
        res[$op-$c-$side]+="$(echo "$out" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["calls_per_s"]))') "
      done
    done
  done
  echo "round $r done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done

med() { tr ' ' '\n' | grep . | median; }
echo "| figure | $oldname | $newname | new / old |"
echo "|---|---:|---:|---:|"
row() { # KEY LABEL UNIT
  local o n
  o=$(echo "${res[$1-old]}" | med)
  n=$(echo "${res[$1-new]}" | med)
  awk -v l="$2" -v o="$o" -v n="$n" -v u="$3" 'BEGIN { printf "| %s | %s %s | %s %s | %.2f |\n", l, o, u, n, u, n / o }'
}
row get-proc "\`keysmith vault get S1\`, whole process (µs, lower is better)" "µs"
for op in get put; do
  for c in 1 8 32; do
    row "$op-$c" "audited ${op}s, $c goroutine(s) (calls/s)" "/s"
  done
done
