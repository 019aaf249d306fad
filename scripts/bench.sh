#!/usr/bin/env bash
# Times whole keysmith processes against their floors and their peers, in
# the same run, and rewrites keysmith's sections of docs/benchmarks.md.
#
# Floors, built with the same Go and the same flags as keysmith
# (CGO_ENABLED=0 -trimpath): scripts/floor/hello (a hello-world process) for
# `keysmith version`, scripts/floor/pbkdf2 (one PBKDF2-HMAC-SHA256 of 100,000
# iterations) for `secrets decrypt-file`, `run` and `vault get`. Peers: sops
# (age key) and dotenvx on the same 10- and 1000-secret .env files.
#
#   bash scripts/bench.sh                # ~5 minutes on 2 cores
#   RUNS=9 bash scripts/bench.sh         # fewer runs per command (default 21)
#   DOTENVX=10 bash scripts/bench.sh     # dotenvx on 10 secrets only (1000 takes ~15 s a run)
#   DOTENVX=0 bash scripts/bench.sh      # no dotenvx at all
#
# Runs are interleaved: each group of commands (floor, keysmith, peers) is
# timed by hyperfine in ROUNDS rounds (default 3) of RUNS/ROUNDS runs each,
# so a burst of load elsewhere hits every command of the group alike;
# medians are over all rounds and ratios are within a group.
#
# Only the sections listed in OWNED below are rewritten; every other "## "
# section of docs/benchmarks.md (Vault, Server, Devices, ..., and hand-written
# notes) is kept as it is, in its place.
#
# Installs what it needs: hyperfine (Debian), sops and age (Go module proxy),
# dotenvx (npm), into $BENCH_TOOLS (default ~/.cache/keysmith-bench).
set -euo pipefail
GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
ROUNDS=${ROUNDS:-3}
DOTENVX=${DOTENVX:-all}
VAULT_N=${VAULT_N:-100000}
TOOLS=${BENCH_TOOLS:-$HOME/.cache/keysmith-bench}
OUT=${BENCH_OUT:-docs/benchmarks.md}
export GOFLAGS=${GOFLAGS:--buildvcs=false}
mkdir -p "$TOOLS/bin"
export PATH="$TOOLS/bin:$TOOLS/npm/node_modules/.bin:$PATH"
PER_ROUND=$(( (RUNS + ROUNDS - 1) / ROUNDS ))

if ! command -v hyperfine >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq hyperfine >/dev/null 2>&1 || { $sudo apt-get update -qq && $sudo apt-get install -y -qq hyperfine >/dev/null; }
fi
[ -x /usr/bin/time ] || { sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"; $sudo apt-get install -y -qq time >/dev/null 2>&1 || true; }
command -v sops >/dev/null || GOBIN=$TOOLS/bin go install github.com/getsops/sops/v3/cmd/sops@v3.13.3
command -v age-keygen >/dev/null || GOBIN=$TOOLS/bin go install filippo.io/age/cmd/...@v1.3.2
if [ "$DOTENVX" != 0 ] && ! command -v dotenvx >/dev/null; then
  npm install --silent --prefix "$TOOLS/npm" @dotenvx/dotenvx@2.38.2 || { echo "bench.sh: dotenvx not installed: skipping it" >&2; DOTENVX=0; }
fi

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# keysmith and its floors: same Go, same flags.
CGO_ENABLED=0 go build -trimpath -o "$W/keysmith" .
CGO_ENABLED=0 go build -trimpath -o "$W/hello" ./scripts/floor/hello
CGO_ENABLED=0 go build -trimpath -o "$W/pbkdf2" ./scripts/floor/pbkdf2
KS="$W/keysmith" HELLO="$W/hello" PBKDF2="$W/pbkdf2"

export HOME="$W/home" XDG_CONFIG_HOME="$W/home/.config" XDG_DATA_HOME="$W/home/.local/share"
mkdir -p "$HOME"
unset KEYSMITH_VAULT KEYSMITH_TENANT KEYSMITH_ENV APP_ENV_TYPE KEYSMITH_KEY_FILE KEYSMITH_OUTPUT 2>/dev/null || true
export GOMODCACHE GOCACHE
export KEYSMITH_MASTER_KEY=$(head -c 32 /dev/urandom | base64)

age-keygen -o "$W/age.key" 2>/dev/null
AGE_RECIPIENT=$(age-keygen -y "$W/age.key")
export SOPS_AGE_KEY_FILE="$W/age.key"

dx_on() { [ "$DOTENVX" = all ] || { [ "$DOTENVX" = 10 ] && [ "$1" = 10 ]; }; }
for n in 10 1000; do
  d="$W/n$n"; mkdir -p "$d/ks" "$d/sops" "$d/dx"
  for i in $(seq 1 "$n"); do echo "VAR_${i}_SECRET=value-$i-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; done > "$d/plain.env"
  cp "$d/plain.env" "$d/ks/env_dev.env"
  "$KS" secrets encrypt-file -q "$d/ks/env_dev.env" >/dev/null
  sops --encrypt --age "$AGE_RECIPIENT" --input-type dotenv --output-type dotenv "$d/plain.env" > "$d/sops/enc.env"
  if dx_on "$n"; then cp "$d/plain.env" "$d/dx/.env"; (cd "$d/dx" && dotenvx encrypt -f .env >/dev/null 2>&1); fi
done
ONE=$(printf %s 'one-value' | "$KS" secrets encrypt)
awk -v n="$VAULT_N" 'BEGIN { for (i = 0; i < n; i++) printf "SECRET_%06d=value-%d-0123456789abcdef\n", i, i }' > "$W/vault.env"
"$KS" vault init --vault "$W/vault.db" -q
"$KS" vault import-env --vault "$W/vault.db" "$W/vault.env" -q
GET_NAME=$(printf 'SECRET_%06d' $((VAULT_N / 2)))

hf() { # group, runs per round, -n name command ...: ROUNDS interleaved hyperfine runs
  local group=$1 runs=$2 r; shift 2
  for r in $(seq 1 "$ROUNDS"); do
    hyperfine -N --warmup 2 --runs "$runs" --export-json "$W/$group.$r.json" "$@" >/dev/null 2>&1 ||
      { echo "bench.sh: hyperfine failed in group $group:" >&2; hyperfine -N --runs 1 "$@" >&2; exit 1; }
  done
}
echo "bench.sh: start-up" >&2
hf startup "$PER_ROUND" -n hello "$HELLO" -n version "$KS version" \
  -n pbkdf2 "$PBKDF2" -n decrypt1 "$KS secrets decrypt $ONE"
for n in 10 1000; do
  echo "bench.sh: $n secrets" >&2
  d="$W/n$n"
  hf "files$n" "$PER_ROUND" -n pbkdf2 "$PBKDF2" \
    -n decrypt-file "$KS secrets decrypt-file $d/ks/env_dev.env" \
    -n run "$KS run -f $d/ks/env_dev.env -- /bin/true" \
    -n sops-d "sops -d $d/sops/enc.env" \
    -n sops-exec "sops exec-env $d/sops/enc.env /bin/true"
  if dx_on "$n"; then
    dxruns=3; [ "$n" = 10 ] && dxruns=$PER_ROUND
    # dotenvx is 20-700x slower: one round, timed apart (its ratio is to keysmith's median).
    ROUNDS=1 hf "dx$n" "$dxruns" -n dotenvx-decrypt "dotenvx decrypt -f $d/dx/.env -fk $d/dx/.env.keys --stdout" \
      -n dotenvx-run "dotenvx run -q -f $d/dx/.env -fk $d/dx/.env.keys -- /bin/true"
  fi
done
echo "bench.sh: vault get on $VAULT_N secrets" >&2
hf vault "$PER_ROUND" -n pbkdf2 "$PBKDF2" -n vault-get "$KS vault get --vault $W/vault.db $GET_NAME"

echo "bench.sh: page faults, memory, package init" >&2
GOBENCH=$(go test -run '^$' -bench 'Derive|Seal|Open' -benchtime 1s ./pkg/value/ 2>&1 | grep '^Benchmark' || true)
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$W" "$OUT" "$RUNS" "$ROUNDS" "$PER_ROUND" "$DOTENVX" "$VAULT_N" "$LOAD_START" "$LOAD_END" "$GOBENCH" <<'PY'
import json, os, platform, re, subprocess, sys, statistics, datetime, glob
w, out, runs, rounds, per_round, dotenvx, vault_n, load_start, load_end, gobench = sys.argv[1:11]
ks, hello, pb = (os.path.join(w, b) for b in ("keysmith", "hello", "pbkdf2"))
med = statistics.median

CPU = {}  # command name -> mean user+system CPU ms over all rounds (less sensitive to a shared machine than wall time)
def load(group):
    times, cpu = {}, {}
    for f in sorted(glob.glob(os.path.join(w, group + ".*.json"))):
        for r in json.load(open(f))["results"]:
            times.setdefault(r["command"], []).extend(r["times"])
            cpu.setdefault(r["command"], []).append(((r["user"] + r["system"]) * 1000, len(r["times"])))
    for k, v in cpu.items():
        CPU[(group, k)] = sum(c * n for c, n in v) / sum(n for _, n in v)
    return {k: med(v) * 1000 for k, v in times.items()}, {k: len(v) for k, v in times.items()}
def cpu(group, a, b=None):
    return CPU[(group, a)] if b is None else CPU[(group, a)] / CPU[(group, b)]

def rusage(argv, n=15, env=None):
    """Median elapsed ms, max of max RSS (KiB) and median minor faults of n runs (getrusage of the child, as /usr/bin/time -v reports)."""
    # GNU time, not os.wait4 here: a child forked from this Python inherits
    # Python's RSS high-water mark across exec, so ru_maxrss would be ~15 MiB
    # for any command; GNU time's own fork is small.
    rss, flt = [], []
    tf = os.path.join(w, "time.out")
    for _ in range(n):
        if GNU_TIME:
            p = subprocess.run([GNU_TIME, "-f", "%M %R", "-o", tf] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            if p.returncode != 0: raise SystemExit(f"bench.sh: {argv} failed")
            m, f = open(tf).read().split()[-2:]
            rss.append(int(m)); flt.append(int(f))
        else:
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            _, status, ru = os.wait4(p.pid, 0)
            if status != 0: raise SystemExit(f"bench.sh: {argv} failed")
            rss.append(ru.ru_maxrss); flt.append(ru.ru_minflt)
    return max(rss), med(rss), med(flt)
GNU_TIME = next((t for t in ("/usr/bin/time",) if os.path.exists(t) and subprocess.run([t, "-f", "%M", "true"], capture_output=True).returncode == 0), None)

def inittrace(argv, n=11):
    """Per package: median init clock ms and bytes; median total over n runs."""
    per, totals, btot = {}, [], []
    line = re.compile(r"^init (\S+) @\S+ ms, (\S+) ms clock, (\d+) bytes, (\d+) allocs$")
    for _ in range(n):
        e = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ, GODEBUG="inittrace=1")).stderr
        t = b = 0.0
        for l in e.splitlines():
            m = line.match(l)
            if not m: continue
            ms, by = float(m.group(2)), int(m.group(3))
            per.setdefault(m.group(1), []).append(ms); t += ms; b += by
        totals.append(t); btot.append(b)
    return {k: med(v) for k, v in per.items()}, med(totals), med(btot), len(per)

def ver(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True, shell=True).stdout.strip().splitlines()[0]
    except Exception: return "?"

s, sn = load("startup")
files = {n: load(f"files{n}")[0] for n in (10, 1000)}
dx = {n: (load(f"dx{n}")[0] if glob.glob(os.path.join(w, f"dx{n}.*.json")) else None) for n in (10, 1000)}
v, _ = load("vault")
f1000 = os.path.join(w, "n1000/ks/env_dev.env")
mem = {name: rusage(argv) for name, argv in [
    ("hello", [hello]), ("version", [ks, "version"]), ("pbkdf2", [pb]),
    ("decrypt-file 1000", [ks, "secrets", "decrypt-file", f1000])]}
it_ks, it_ks_total, it_ks_bytes, it_ks_n = inittrace([ks, "version"])
_, it_hello_total, _, it_hello_n = inittrace([hello])
size = {b: os.path.getsize(p) / 1e6 for b, p in (("keysmith", ks), ("hello", hello))}

cpumodel = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
memtotal = next((int(l.split()[1]) // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
gov = ver("go version")
rows = []  # (target, measured, limit, value)
def target(what, num, den, limit, cpu_ratio):
    r = num / den
    rows.append((what, f"{num:.1f} / {den:.1f} ms = {r:.2f}x", f"{cpu_ratio:.2f}x", f"≤ {limit}x", "met" if r <= limit else "**missed**"))
    return r

L = ["# Benchmarks\n"]
L.append(f"Made by `bash scripts/bench.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC (RUNS={runs}, ROUNDS={rounds}, DOTENVX={dotenvx}). "
         f"hyperfine `-N`, 2 warm-ups; each group of commands below (floor, keysmith, peers) was timed in {rounds} interleaved rounds of {per_round} runs, "
         "so every figure in a table comes from the same minutes; medians in milliseconds over all rounds; ratios are within a table. "
         "All binaries (keysmith and the floors) were built by the script with the same Go and `CGO_ENABLED=0 go build -trimpath`.\n")
L.append(f"Machine: {cpumodel}, {os.cpu_count()} cores, {memtotal} MiB, {platform.system()} {platform.release()}; {gov}. "
         f"Load average (1, 5, 15 min) {load_start} at the start, {load_end} at the end: above the core count the machine was shared and single runs are noisy; compare the ratios. "
         f"Peers: {ver('sops --version')}; age {ver('age --version')}; dotenvx {ver('dotenvx --version') if dotenvx != '0' else 'not run'}; {ver('hyperfine --version')}.\n")

L.append("## Start-up\n")
L.append("| command | median ms | ratio to its floor | CPU ms | minor page faults | max RSS MiB |\n| --- | ---: | ---: | ---: | ---: | ---: |")
L.append(f"| floor: `scripts/floor/hello` (hello world) | {s['hello']:.1f} | | {cpu('startup', 'hello'):.1f} | {mem['hello'][2]:.0f} | {mem['hello'][0]/1024:.1f} |")
r_version = target("`keysmith version` vs hello world", s["version"], s["hello"], 2, cpu("startup", "version", "hello"))
L.append(f"| `keysmith version` | {s['version']:.1f} | {r_version:.2f}x | {cpu('startup', 'version'):.1f} | {mem['version'][2]:.0f} | {mem['version'][0]/1024:.1f} |")
L.append(f"| floor: `scripts/floor/pbkdf2` (one PBKDF2-SHA256, 100,000 iterations) | {s['pbkdf2']:.1f} | | {cpu('startup', 'pbkdf2'):.1f} | {mem['pbkdf2'][2]:.0f} | {mem['pbkdf2'][0]/1024:.1f} |")
L.append(f"| `keysmith secrets decrypt` (1 value) | {s['decrypt1']:.1f} | {s['decrypt1']/s['pbkdf2']:.2f}x | {cpu('startup', 'decrypt1'):.1f} | | |\n")
top = sorted(it_ks.items(), key=lambda kv: -kv[1])[:12]
L.append(f"Package initialisation of `keysmith version` (`GODEBUG=inittrace=1`, median of 11 runs): {it_ks_n} packages, "
         f"{it_ks_total:.2f} ms of init clock in total, {it_ks_bytes/1024:.0f} KiB allocated; the hello world's {it_hello_n} runtime packages: {it_hello_total:.2f} ms. "
         f"Binary: keysmith {size['keysmith']:.1f} MB, hello world {size['hello']:.1f} MB. Largest inits (median ms):\n")
L.append("| package | init ms |\n| --- | ---: |")
for k, t in top: L.append(f"| `{k}` | {t:.3f} |")
L.append("")

for n in (10, 1000):
    f = files[n]; fl = f["pbkdf2"]
    L.append(f"## {n} secrets\n")
    L.append("| command | median ms | vs the PBKDF2 floor | peer vs keysmith |\n| --- | ---: | ---: | ---: |")
    L.append(f"| floor: `scripts/floor/pbkdf2` | {fl:.1f} | 1.00x | |")
    rd = target(f"`secrets decrypt-file`, {n} values, vs PBKDF2 floor", f["decrypt-file"], fl, 1.3, cpu(f"files{n}", "decrypt-file", "pbkdf2"))
    L.append(f"| `keysmith secrets decrypt-file` | {f['decrypt-file']:.1f} | {rd:.2f}x | |")
    L.append(f"| `sops -d` | {f['sops-d']:.1f} | {f['sops-d']/fl:.2f}x | {f['sops-d']/f['decrypt-file']:.2f}x |")
    if dx[n]: L.append(f"| `dotenvx decrypt` (timed apart) | {dx[n]['dotenvx-decrypt']:.1f} | | {dx[n]['dotenvx-decrypt']/f['decrypt-file']:.1f}x |")
    rr = target(f"`run`, {n} values, vs PBKDF2 floor", f["run"], fl, 1.3, cpu(f"files{n}", "run", "pbkdf2"))
    L.append(f"| `keysmith run -- /bin/true` | {f['run']:.1f} | {rr:.2f}x | |")
    L.append(f"| `sops exec-env … /bin/true` | {f['sops-exec']:.1f} | {f['sops-exec']/fl:.2f}x | {f['sops-exec']/f['run']:.2f}x |")
    if dx[n]: L.append(f"| `dotenvx run -- /bin/true` (timed apart) | {dx[n]['dotenvx-run']:.1f} | | {dx[n]['dotenvx-run']/f['run']:.1f}x |")
    if not dx[n]: L.append(f"\ndotenvx on {n} secrets was not run (DOTENVX={dotenvx}).")
    L.append("\n\"peer vs keysmith\": the peer's median divided by keysmith's (above 1: keysmith is faster).\n")

n_fmt = f"{int(vault_n):,}"
L.append(f"## vault get on {n_fmt} secrets\n")
L.append("| command | median ms | vs the PBKDF2 floor |\n| --- | ---: | ---: |")
L.append(f"| floor: `scripts/floor/pbkdf2` | {v['pbkdf2']:.1f} | 1.00x |")
rv = target(f"`vault get` on {n_fmt} secrets vs PBKDF2 floor", v["vault-get"], v["pbkdf2"], 1.4, cpu("vault", "vault-get", "pbkdf2"))
L.append(f"| `keysmith vault get` (SQLite vault of {n_fmt} secrets) | {v['vault-get']:.1f} | {rv:.2f}x |\n")

L.append("## Peak memory\n")
peak = mem["decrypt-file 1000"]
L.append(f"Max RSS ({'GNU time `%M`, the figure `/usr/bin/time -v` prints' if GNU_TIME else 'getrusage of the child: without GNU time, an upper bound inflated by the parent'}) over 15 runs of `keysmith secrets decrypt-file` on the 1000-secret file: "
         f"{peak[0]/1024:.1f} MiB at most, {peak[1]/1024:.1f} MiB median, {peak[2]:.0f} minor page faults (median).\n")
rows.append(("peak memory of `decrypt-file`, 1000 values", f"{peak[0]/1024:.1f} MiB", "", "≤ 20 MiB", "met" if peak[0] <= 20 * 1024 else "**missed**"))

L.append("## Go benchmarks\n\n`go test -run '^$' -bench 'Derive|Seal|Open' -benchtime 1s ./pkg/value/` (Open and Seal are after the one-time derivation):\n\n```\n" + gobench + "\n```\n")

L.append("## Against the targets\n")
L.append("Issue 14's targets, from the tables above (same run). The verdict is on the wall-clock medians; \"CPU ratio\" is the same ratio on user+system CPU time (hyperfine's means), which load from other processes inflates less. Targets of the vault, server and device commands are in their own sections.\n")
L.append("| target | measured (wall medians) | CPU ratio | limit | |\n| --- | --- | ---: | --- | --- |")
for r in rows: L.append("| " + " | ".join(r) + " |")
L.append("")
open(os.path.join(w, "generated.md"), "w").write("\n".join(L))
PY
python3 scripts/bench-merge.py "$W/generated.md" "$OUT"
cat "$OUT"
