#!/usr/bin/env bash
# interop-age.sh checks that device keys sealed by pkg/devicecred open with the
# reference age CLI, and that keys sealed by the age CLI open with
# pkg/devicecred, comparing the public key with openssl each time.
#
# Usage: scripts/interop-age.sh
#
# Environment:
#   AGE_VERSION           age release to install (default v1.3.2, as in go.mod)
#   INTEROP_WORK_FACTOR   scrypt work factor (default 18, the production value)
#
# Needs go, openssl, od and sha256sum. Installs age, age-inspect and
# age-plugin-batchpass from the Go module proxy into a temporary directory;
# "age -d -j batchpass" runs age-plugin-batchpass from $PATH, which reads the
# passphrase from $AGE_PASSPHRASE so no terminal is needed.
#
# Exit status: 0 if every check passes, 1 otherwise.
set -euo pipefail

AGE_VERSION=${AGE_VERSION:-v1.3.2}
WORK_FACTOR=${INTEROP_WORK_FACTOR:-18}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
umask 077

say() { printf 'interop-age: %s\n' "$*"; }
fail() { printf 'interop-age: FAIL: %s\n' "$*" >&2; exit 1; }
hexdump_() { od -An -tx1 -v | tr -d ' \n'; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fs", b - a }'; }
field() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }

for tool in go openssl od sha256sum; do
    command -v "$tool" >/dev/null || fail "$tool not found in PATH"
done

say "installing filippo.io/age/cmd/...@$AGE_VERSION"
(cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS= go install "filippo.io/age/cmd/...@$AGE_VERSION")
export PATH="$tmp/bin:$PATH"
for tool in age age-inspect age-plugin-batchpass; do
    [[ -x "$tmp/bin/$tool" ]] || fail "$tool was not installed"
done
say "age $(age --version), openssl $(openssl version | awk '{print $2}'), work factor $WORK_FACTOR"

interopgen() { (cd "$root" && go run ./pkg/devicecred/internal/interopgen "$@"); }
interopgen seal -h >/dev/null 2>&1 || true # compile outside the timed section

# --- keysmith seals, age opens --------------------------------------------------
sealed="$tmp/device.key.age"
start=$(now)
interopgen seal -o "$sealed" -work-factor "$WORK_FACTOR" >"$tmp/gen.txt"
end=$(now)
pass=$(field passphrase "$tmp/gen.txt")
want_spki=$(field spki "$tmp/gen.txt")
want_fp=$(field fingerprint "$tmp/gen.txt")
[[ -n "$pass" && -n "$want_spki" && -n "$want_fp" ]] || fail "interopgen printed: $(cat "$tmp/gen.txt")"
say "keysmith sealed $(wc -c <"$sealed") bytes in $(elapsed "$start" "$end") (fingerprint $want_fp)"

# Binary (not armored) age v1 with exactly one scrypt stanza at the work factor.
[[ "$(head -n 1 "$sealed")" == "age-encryption.org/v1" ]] || fail "first line is not the binary age intro"
stanza=$(sed -n 2p "$sealed")
[[ "$stanza" =~ ^"-> scrypt "[A-Za-z0-9+/]{22}" $WORK_FACTOR"$ ]] || fail "second line is not an scrypt stanza at $WORK_FACTOR: $stanza"
age-inspect --json "$sealed" >"$tmp/inspect.json"
grep -q '"armor": false' "$tmp/inspect.json" || fail "age-inspect says the file is armored"
[[ $(tr -d ' \n' <"$tmp/inspect.json" | grep -o '"stanza_types":\[[^]]*\]') == '"stanza_types":["scrypt"]' ]] ||
    fail "age-inspect stanza types: $(cat "$tmp/inspect.json")"

if AGE_PASSPHRASE="not-the-passphrase" age -d -j batchpass -o "$tmp/wrong.pem" "$sealed" 2>"$tmp/wrong.err"; then
    fail "age -d opened the file with a wrong passphrase"
fi
say "age -d with a wrong passphrase refused: $(head -n 1 "$tmp/wrong.err")"

start=$(now)
AGE_PASSPHRASE="$pass" age -d -j batchpass -o "$tmp/device.key.pem" "$sealed"
end=$(now)
head -n 1 "$tmp/device.key.pem" | grep -qx -- '-----BEGIN PRIVATE KEY-----' || fail "age output is not a PKCS#8 PEM"
got_spki=$(openssl pkey -in "$tmp/device.key.pem" -pubout -outform DER | hexdump_)
got_fp=$(openssl pkey -in "$tmp/device.key.pem" -pubout -outform DER | sha256sum | cut -d' ' -f1)
[[ "$got_spki" == "$want_spki" ]] || fail "SPKI mismatch: openssl $got_spki, keysmith $want_spki"
[[ "$got_fp" == "$want_fp" ]] || fail "fingerprint mismatch: openssl $got_fp, keysmith $want_fp"
openssl pkey -in "$tmp/device.key.pem" -noout -text | grep -q 'NIST CURVE: P-256' || fail "key is not P-256"
say "age -d opened it in $(elapsed "$start" "$end"); openssl SPKI and fingerprint match"

# --- age seals, keysmith opens --------------------------------------------------
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/openssl.pem"
want_spki=$(openssl pkey -in "$tmp/openssl.pem" -pubout -outform DER | hexdump_)
AGE_PASSPHRASE="$pass" AGE_PASSPHRASE_WORK_FACTOR="$WORK_FACTOR" \
    age -e -j batchpass -o "$tmp/openssl.pem.age" "$tmp/openssl.pem"
AGE_PASSPHRASE="$pass" interopgen reveal -i "$tmp/openssl.pem.age" >"$tmp/reveal.txt"
got_spki=$(field spki "$tmp/reveal.txt")
[[ "$got_spki" == "$want_spki" ]] || fail "SPKI mismatch: keysmith $got_spki, openssl $want_spki"
if AGE_PASSPHRASE="not-the-passphrase" interopgen reveal -i "$tmp/openssl.pem.age" >/dev/null 2>"$tmp/wrong.err"; then
    fail "keysmith opened the age CLI's file with a wrong passphrase"
fi
grep -q 'wrong passphrase' "$tmp/wrong.err" || fail "unexpected error: $(cat "$tmp/wrong.err")"
say "age -e -j batchpass file opened by keysmith; SPKI matches openssl"

say "PASS"
