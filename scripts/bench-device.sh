#!/usr/bin/env bash
# bench-device.sh: time "keysmith device provision" against one scrypt at
# work factor 18 (N=2^18, r=8, p=1, golang.org/x/crypto/scrypt, the code age
# uses), and a batch of 8 against 8 provisions one after another, on 2 cores,
# in the same run. Prints a markdown table (for docs/device.md and
# docs/benchmarks.md).
#
#   bash scripts/bench-device.sh            # RUNS=10 single runs, BATCH_RUNS=5
#   KEYSMITH_BIN=/path/keysmith bash scripts/bench-device.sh
#
# Uses hyperfine (apt-get install -y hyperfine); without it, one timed run
# each. Needs taskset (util-linux) for the 2-core rows and at least 2 CPUs.
# Targets: provision / scrypt <= 1.15; 8 sequential / batch of 8 >= 1.7.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-10}
BATCH_RUNS=${BATCH_RUNS:-5}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

KS=${KEYSMITH_BIN:-}
if [ -z "$KS" ]; then
	KS="$W/keysmith"
	(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$KS" .)
fi

# The baseline: one process that runs one scrypt at work factor 18, built
# against the x/crypto version keysmith itself uses.
XCRYPTO=$(cd "$ROOT" && go list -m -f '{{.Version}}' golang.org/x/crypto)
mkdir -p "$W/scrypt1"
cat >"$W/scrypt1/main.go" <<'EOF'
// scrypt1 derives one key with scrypt N=2^18, r=8, p=1: what opening or
// sealing a device key file costs.
package main

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/scrypt"
)

func main() {
	salt := make([]byte, 16)
	rand.Read(salt)
	k, err := scrypt.Key([]byte("alpha-bravo-charlie-delta"), salt, 1<<18, 8, 1, 32)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%x\n", k[:4])
}
EOF
printf 'module scrypt1\n\ngo 1.26\n\nrequire golang.org/x/crypto %s\n' "$XCRYPTO" >"$W/scrypt1/go.mod"
grep -E '^golang.org/x/(crypto|sys) ' "$ROOT/go.sum" >"$W/scrypt1/go.sum"
(cd "$W/scrypt1" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$W/scrypt1.bin" .)

export HOME="$W" XDG_CONFIG_HOME="$W/.config" XDG_DATA_HOME="$W/.local/share"
export KEYSMITH_MASTER_KEY=1111111111111111111111111111111111111111111111111111111111111111
unset KEYSMITH_VAULT KEYSMITH_TENANT KEYSMITH_ENV APP_ENV_TYPE KEYSMITH_KEY_FILE KEYSMITH_OUTPUT 2>/dev/null || true
V="$W/bench.db"
"$KS" vault init --vault "$V" -q

CORES=$(nproc)
PIN=""
if command -v taskset >/dev/null && [ "$CORES" -ge 2 ]; then
	PIN="taskset -c 0,1"
fi

# results: name -> mean seconds, stddev
declare -A MEAN SD
bench() { # key, runs, command, [prepare]
	local key=$1 runs=$2 cmd=$3 prep=${4:-}
	if command -v hyperfine >/dev/null; then
		local args=(--style none --warmup 1 --runs "$runs" --export-json "$W/h.json")
		[ -n "$prep" ] && args+=(--prepare "$prep")
		hyperfine "${args[@]}" "$cmd" >/dev/null
		read -r m s < <(python3 -c "import json; r=json.load(open('$W/h.json'))['results'][0]; print(r['mean'], r['stddev'] or 0)")
	else
		[ -n "$prep" ] && sh -c "$prep"
		local a b
		a=$(date +%s.%N); sh -c "$cmd" >/dev/null; b=$(date +%s.%N)
		m=$(awk -v a="$a" -v b="$b" 'BEGIN { print b - a }'); s=0
	fi
	MEAN[$key]=$m SD[$key]=$s
}
fmt() { awk -v m="${MEAN[$1]}" -v s="${SD[$1]}" 'BEGIN { printf "%.0f ms ± %.0f", m * 1000, s * 1000 }'; }
ratio() { awk -v a="${MEAN[$1]}" -v b="${MEAN[$2]}" 'BEGIN { printf "%.2f", a / b }'; }

N=0
next_name() { N=$((N + 1)); echo "b$N"; }
# One provision per run, each a new device in the same vault, output in a fresh directory.
bench scrypt "$RUNS" "$PIN $W/scrypt1.bin"
bench provision "$RUNS" "sh -c 'cd $W/p && $PIN $KS device provision --vault $V --role server --name d\$(od -An -N6 -tx1 /dev/urandom | tr -d \" \n\") --passphrase-file pass -q --out key.age'" "rm -rf $W/p && mkdir $W/p"
bench reveal "$RUNS" "$PIN $KS device reveal $W/r.age --passphrase-file $W/r.pass" \
	"[ -f $W/r.age ] || $KS device provision --vault $V --role server --name reveal-me --out $W/r.age --passphrase-file $W/r.pass -q"
# A batch of 8 vs 8 provisions in a row, each on a fresh vault, pinned to 2 cores.
fresh="rm -rf $W/b* $W/fresh.db* && mkdir -p $W/b && $KS vault init --vault $W/fresh.db -q"
bench batch8 "$BATCH_RUNS" "$PIN $KS device provision --vault $W/fresh.db --role server --count 8 --name-prefix e- --out-dir $W/b/out -q" "$fresh"
bench seq8 "$BATCH_RUNS" "sh -c 'cd $W/b && for i in 1 2 3 4 5 6 7 8; do $PIN $KS device provision --vault $W/fresh.db --role server --name s\$i --out s\$i.age --passphrase-file s\$i.pass -q || exit 1; done'" "$fresh"

echo "Measured $(date -u +%Y-%m-%d) on $(uname -m), $CORES CPUs ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')), $(go version | cut -d' ' -f3); ${PIN:-no taskset}; hyperfine $(hyperfine --version 2>/dev/null | cut -d' ' -f2 || echo absent)."
echo
echo "| what | mean | ratio | target |"
echo "|---|---|---|---|"
echo "| one scrypt, work factor 18 (process) | $(fmt scrypt) | 1 | |"
echo "| \`device provision\` (unlock, keygen, seal, one transaction) | $(fmt provision) | $(ratio provision scrypt) × scrypt | ≤ 1.15 |"
echo "| \`device reveal\` (one scrypt to open) | $(fmt reveal) | $(ratio reveal scrypt) × scrypt | |"
echo "| 8 × \`device provision\`, one after another, 2 cores | $(fmt seq8) | 1 | |"
echo "| \`device provision --count 8\`, 2 cores | $(fmt batch8) | $(ratio seq8 batch8) × faster | ≥ 1.7 |"
