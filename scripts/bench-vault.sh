#!/bin/sh
# bench-vault.sh: time whole keysmith vault processes and print a markdown
# table (for docs/benchmarks.md). Uses hyperfine when installed
# (apt-get install hyperfine), else one timed run per command.
#   scripts/bench-vault.sh [N_LARGE]   (default 100000 secrets for rotate-master)
set -eu
LARGE=${1:-100000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
KS="$W/keysmith"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$KS" .)
export HOME="$W" XDG_CONFIG_HOME="$W/.config" XDG_DATA_HOME="$W/.local/share"
export KEYSMITH_MASTER_KEY=1111111111111111111111111111111111111111111111111111111111111111
KEY_B=2222222222222222222222222222222222222222222222222222222222222222
unset KEYSMITH_VAULT KEYSMITH_TENANT KEYSMITH_ENV APP_ENV_TYPE KEYSMITH_KEY_FILE 2>/dev/null || true

gen_env() { awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "SECRET_%06d=value-%d-0123456789abcdef\n", i, i }' > "$2"; }
gen_env 10000 "$W/10k.env"
gen_env 1000 "$W/1k.env"
gen_env "$LARGE" "$W/large.env"

"$KS" vault init --vault "$W/v10k.db" -q
"$KS" vault import-env --vault "$W/v10k.db" "$W/10k.env" -q
"$KS" vault init --vault "$W/v1k.db" -q
"$KS" vault import-env --vault "$W/v1k.db" "$W/1k.env" -q
"$KS" vault init --vault "$W/vlarge.db" -q
"$KS" vault import-env --vault "$W/vlarge.db" "$W/large.env" -q
VALUE=$(printf x | "$KS" secrets encrypt)

rotate_twice() { # rotate to key B and back: two rotate-master runs
	echo "NEW=$KEY_B \"$KS\" vault rotate-master --vault $1 --new-key-env NEW -q && KEYSMITH_MASTER_KEY=$KEY_B NEW=$KEYSMITH_MASTER_KEY \"$KS\" vault rotate-master --vault $1 --new-key-env NEW -q"
}

echo "| command | median (mean ± σ) | notes |"
echo "|---|---|---|"
run() { # name, command, [prepare]
	if command -v hyperfine >/dev/null 2>&1; then
		if [ -n "${3:-}" ]; then
			hyperfine -N --warmup 2 --runs "${RUNS:-10}" --prepare "$3" --export-json "$W/h.json" "$2" >/dev/null 2>&1 || hyperfine --warmup 2 --runs "${RUNS:-10}" --prepare "$3" --export-json "$W/h.json" "$2" >/dev/null
		else
			hyperfine -N --warmup 2 --runs "${RUNS:-10}" --export-json "$W/h.json" "$2" >/dev/null 2>&1 || hyperfine --warmup 2 --runs "${RUNS:-10}" --export-json "$W/h.json" "$2" >/dev/null
		fi
		mean=$(python3 -c "import json; r=json.load(open('$W/h.json'))['results'][0]; print('%.1f ms (%.1f ± %.1f)' % (r['median']*1000, r['mean']*1000, r['stddev']*1000))")
	else
		[ -n "${3:-}" ] && sh -c "$3"
		s=$(date +%s%N); sh -c "$2" >/dev/null; e=$(date +%s%N)
		mean="$(( (e - s) / 1000000 )) ms (1 run)"
	fi
	echo "| $1 | $mean | ${4:-} |"
}
run "keysmith version (start-up)" "$KS version"
run "secrets decrypt (start-up + 1 PBKDF2)" "$KS secrets decrypt $VALUE"
run "vault get (10,000 stored)" "$KS vault get --vault $W/v10k.db SECRET_005000"
run "vault ls (10,000)" "$KS vault ls --vault $W/v10k.db"
run "vault import-env (10,000, new vault)" "sh -c '$KS vault import-env --vault $W/imp.db $W/10k.env -q'" "rm -f $W/imp.db* && $KS vault init --vault $W/imp.db -q" "prepare: fresh vault"
run "vault rotate-master ×2 (1,000)" "sh -c '$(rotate_twice "$W/v1k.db")'" "" "two rotations"
run "vault rotate-master ×2 ($LARGE)" "sh -c '$(rotate_twice "$W/vlarge.db")'" "" "two rotations"
