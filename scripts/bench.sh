#!/usr/bin/env bash
# Times whole keysmith processes against sops (age key) and dotenvx on
# equivalent 10- and 1000-secret .env files, in the same run, with hyperfine,
# and writes docs/benchmarks.md (medians and ratios) plus the Go benchmarks.
#
#   bash scripts/bench.sh              # full run (dotenvx on 1000 secrets takes minutes)
#   RUNS=5 bash scripts/bench.sh       # fewer runs
#
# Installs what it needs: hyperfine (Debian), sops and age (Go module proxy),
# dotenvx (npm), into $BENCH_TOOLS (default ~/.cache/keysmith-bench).
set -euo pipefail
GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=${RUNS:-20}
TOOLS=${BENCH_TOOLS:-$HOME/.cache/keysmith-bench}
OUT=${BENCH_OUT:-docs/benchmarks.md}
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$TOOLS/npm/node_modules/.bin:$PATH"

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
command -v sops >/dev/null || GOBIN=$TOOLS/bin go install github.com/getsops/sops/v3/cmd/sops@v3.13.3
command -v age >/dev/null || GOBIN=$TOOLS/bin go install filippo.io/age/cmd/...@v1.3.2
command -v dotenvx >/dev/null || npm install --silent --prefix "$TOOLS/npm" @dotenvx/dotenvx@2.38.2

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
# Hand-written notes after the marker line survive a re-run.
MARKER='<!-- notes: kept by scripts/bench.sh -->'
NOTES=""
if [ -f "$OUT" ] && grep -qF "$MARKER" "$OUT"; then NOTES=$(awk -v m="$MARKER" 'index($0, m) { keep = 1 } keep' "$OUT"); fi
CGO_ENABLED=0 go build -trimpath -o "$W/keysmith" .
KS="$W/keysmith"
export HOME="$W/home" XDG_CONFIG_HOME="$W/home/.config"
mkdir -p "$HOME"
export GOMODCACHE GOCACHE
export KEYSMITH_MASTER_KEY=$(head -c 32 /dev/urandom | base64)

age-keygen -o "$W/age.key" 2>/dev/null
AGE_RECIPIENT=$(age-keygen -y "$W/age.key")
export SOPS_AGE_KEY_FILE="$W/age.key"

for n in 10 1000; do
  d="$W/n$n"; mkdir -p "$d/ks" "$d/sops" "$d/dx"
  for i in $(seq 1 "$n"); do echo "VAR_${i}_SECRET=value-$i-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; done > "$d/plain.env"
  cp "$d/plain.env" "$d/ks/env_dev.env"
  "$KS" secrets encrypt-file -q "$d/ks/env_dev.env" >/dev/null
  sops --encrypt --age "$AGE_RECIPIENT" --input-type dotenv --output-type dotenv "$d/plain.env" > "$d/sops/enc.env"
  cp "$d/plain.env" "$d/dx/.env"
  (cd "$d/dx" && dotenvx encrypt -f .env >/dev/null 2>&1)
done
ONE=$(printf %s 'one-value' | "$KS" secrets encrypt)

hf() { # name, runs, commands...
  local name=$1 runs=$2; shift 2
  hyperfine -N --warmup 2 --runs "$runs" --export-json "$W/$name.json" "$@" >/dev/null 2>&1
}
hf startup "$RUNS" -n "keysmith version" "$KS version" -n "keysmith secrets decrypt (1 value: start-up + 1 PBKDF2)" "$KS secrets decrypt $ONE"
for n in 10 1000; do
  d="$W/n$n"; dxruns=$RUNS; [ "$n" = 1000 ] && dxruns=3
  # Each group times the baseline too, so ratios compare runs made side by side.
  hf "decrypt$n" "$RUNS" \
    -n "baseline" "$KS secrets decrypt $ONE" \
    -n "keysmith secrets decrypt-file" "$KS secrets decrypt-file $d/ks/env_dev.env" \
    -n "sops -d" "sops -d $d/sops/enc.env"
  hf "run$n" "$RUNS" \
    -n "baseline" "$KS secrets decrypt $ONE" \
    -n "keysmith run" "$KS run -f $d/ks/env_dev.env -- /bin/true" \
    -n "sops exec-env" "sops exec-env $d/sops/enc.env /bin/true"
  hf "dxdecrypt$n" "$dxruns" -n "dotenvx decrypt" "dotenvx decrypt -f $d/dx/.env -fk $d/dx/.env.keys --stdout"
  hf "dxrun$n" "$dxruns" -n "dotenvx run" "dotenvx run -q -f $d/dx/.env -fk $d/dx/.env.keys -- /bin/true"
done

GOBENCH=$(go test -run '^$' -bench 'Derive|Seal|Open' -benchtime 1s ./pkg/value/ 2>&1 | grep '^Benchmark' || true)

python3 - "$W" "$OUT" "$RUNS" "$GOBENCH" <<'PY'
import json, os, platform, subprocess, sys, statistics, datetime
w, out, runs, gobench = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def load(name):
    return {r["command"]: statistics.median(r["times"]) * 1000 for r in json.load(open(os.path.join(w, name + ".json")))["results"]}
def ver(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip().splitlines()[0]
    except Exception: return "?"
cpu = next((l.split(":",1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
s = load("startup")
L = []
L.append("# Benchmarks\n")
L.append(f"Made by `bash scripts/bench.sh` on {datetime.date.today()}: hyperfine, {runs} runs per command after 2 warm-ups "
         "(dotenvx on 1000 secrets: 3 runs), medians in milliseconds. Every tool was measured in the same run on the same files: "
         "N variables `VAR_i_SECRET` with ~30-byte values, encrypted by each tool (sops with an age key, dotenvx with its own key file).\n")
L.append(f"Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}. "
         f"Versions: {ver('sops --version')}; age {ver('age --version')}; dotenvx {ver('dotenvx --version')}; {ver('hyperfine --version')}.\n")
L.append("## Start-up\n\n| command | median ms |\n| --- | ---: |")
for k, v in s.items(): L.append(f"| `{k}` | {v:.1f} |")
L.append("\nThe baseline for the targets below is keysmith start-up + one PBKDF2: `keysmith secrets decrypt` of one value. "
         "Each table's group timed it again side by side with the commands compared against it.\n")
for n in (10, 1000):
    d, r, dd, dr = load(f"decrypt{n}"), load(f"run{n}"), load(f"dxdecrypt{n}"), load(f"dxrun{n}")
    ks_d, ks_r = d["keysmith secrets decrypt-file"], r["keysmith run"]
    L.append(f"## {n} secrets\n\n| command | median ms | vs keysmith | keysmith vs baseline |\n| --- | ---: | ---: | ---: |")
    L.append(f"| baseline: `keysmith secrets decrypt` (1 value) | {d['baseline']:.1f} | | |")
    L.append(f"| `keysmith secrets decrypt-file` | {ks_d:.1f} | 1.00x | {ks_d/d['baseline']:.2f}x |")
    L.append(f"| `sops -d` | {d['sops -d']:.1f} | {d['sops -d']/ks_d:.2f}x | |")
    L.append(f"| `dotenvx decrypt` | {dd['dotenvx decrypt']:.1f} | {dd['dotenvx decrypt']/ks_d:.1f}x | |")
    L.append(f"| `keysmith run` | {ks_r:.1f} | 1.00x | {ks_r/r['baseline']:.2f}x |")
    L.append(f"| `sops exec-env` | {r['sops exec-env']:.1f} | {r['sops exec-env']/ks_r:.2f}x | |")
    L.append(f"| `dotenvx run` | {dr['dotenvx run']:.1f} | {dr['dotenvx run']/ks_r:.1f}x | |\n")
L.append("\"vs keysmith\" is the peer's median divided by keysmith's (above 1: keysmith is faster). "
         "\"keysmith vs baseline\" is keysmith's median divided by start-up + one PBKDF2 (target: at most 1.3x on 1000 secrets).\n")
L.append("## Go benchmarks\n\n`go test -run '^$' -bench 'Derive|Seal|Open' -benchtime 1s ./pkg/value/` (Open and Seal are after the one-time derivation):\n\n```\n" + gobench + "\n```\n")
open(out, "w").write("\n".join(L))
PY

# The vault and device benchmarks print their own markdown sections.
if [ -f scripts/bench-vault.sh ]; then
  { echo; echo "## Vault"; echo; echo "\`scripts/bench-vault.sh\` (hyperfine, ${RUNS} runs; 10,000 secrets unless said):"; echo;
    RUNS=$RUNS sh scripts/bench-vault.sh; } >> "$OUT"
fi
if [ -f scripts/bench-device.sh ]; then
  { echo; echo "## Devices"; echo; RUNS=$RUNS bash scripts/bench-device.sh; } >> "$OUT"
fi
[ -n "$NOTES" ] && printf '\n%s\n' "$NOTES" >> "$OUT"
cat "$OUT"
