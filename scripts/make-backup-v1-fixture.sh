#!/usr/bin/env bash
# Makes testdata/backup/v1.age: a backup format v1 written by "vault export"
# of the release before backup v2 (commit e7ba9c5). Run it with that
# release's binary: KEYSMITH=/path/to/keysmith scripts/make-backup-v1-fixture.sh
# The fixture is committed; rerunning it with a newer binary would write v2.
set -euo pipefail
ks=${KEYSMITH:-keysmith}
out=$(cd "$(dirname "$0")/.." && pwd)/testdata/backup
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work XDG_CONFIG_HOME=$work/.config XDG_DATA_HOME=$work/.local/share
export KEYSMITH_MASTER_KEY=1111111111111111111111111111111111111111111111111111111111111111
export KEYSMITH_PASSPHRASE="$(cat "$out/v1.passphrase")"
"$ks" vault init --vault "$work/v.db"
"$ks" vault tenant add acme --vault "$work/v.db"
"$ks" vault put DB_PASSWORD --value hunter2 --vault "$work/v.db"
"$ks" vault put DB_PASSWORD --value hunter3 --vault "$work/v.db"
"$ks" vault put API_TOKEN --value 'tok en' --tenant acme --vault "$work/v.db"
"$ks" vault export -o "$out/v1.age" --force --vault "$work/v.db"
