#!/usr/bin/env python3
"""Write testdata/legacy/python-fixtures.json: legacy keysmith values made by Python.

The old Python design of keysmith stored `<ENV>_ENC:<fernet token>` values, keyed by

    key   = base64.urlsafe_b64encode(PBKDF2HMAC(SHA256, length=32, salt=SALT,
                                                iterations=100000).derive(INPUT))
    token = Fernet(key).encrypt(plaintext)

where INPUT is the master key text (kdf_input = "text") or its decoded 32 bytes
(kdf_input = "bytes"), and SALT is the `legacy.<env>.salt` setting (default: the
environment name). See docs/legacy.md.

Everything here is fixed except what Fernet randomizes (the IV), so running the
script again gives other tokens for the same inputs. The tokens are stamped with a
fixed, long-past time: they would fail any TTL check, which keysmith ignores.

The output records, per group (one key, environment, salt and kdf_input): the
key text and its decoded bytes, the salt setting as written in the config (null
for the default) and the salt bytes it means, the derived Fernet key, and the
tokens with the plaintexts they hold. The Go tests in pkg/legacy read it.

Usage (from the repository root; needs the `cryptography` package):

    python3 scripts/make-legacy-fixtures.py [OUTPUT]
    python3 scripts/make-legacy-fixtures.py --free-text [OUTPUT]

--free-text writes testdata/legacy/python-freetext.json instead: tokens under
free-text master keys (not 32 bytes, as real files of the older tool have), which
keysmith opens only with legacy.<env>.kdf_input: text and a key passed to
`secrets migrate --from-key-env/--from-key-file` (issue 8 item 11). Their
key_hex is null: the text has no 32-byte form.
"""

import base64
import hashlib
import json
import os
import sys

import cryptography
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

ITERATIONS = 100_000
# 2023-11-14T22:13:20Z: any TTL check would call these tokens expired.
SIGNED_AT = 1_700_000_000


def key_bytes(label):
    """A fixed 32-byte master key."""
    return hashlib.sha256(b"keysmith legacy fixture " + label.encode()).digest()


# Master keys as written in a key file or KEYSMITH_* variable: 32 bytes in base64.
# Key "a" is written in standard base64 and chosen so that its text has '+' or '/'
# in it; key "b" in URL-safe base64. In kdf_input=text mode the text is used
# exactly as shown, padding included.
KEYS = {}
for label, enc in (("a", base64.standard_b64encode), ("b", base64.urlsafe_b64encode)):
    raw = key_bytes(label)
    KEYS[label] = (enc(raw).decode("ascii"), raw)
assert set("+/") & set(KEYS["a"][0]), KEYS["a"][0]

# Salt settings: None is the default (the environment name), a plain string is
# its UTF-8 bytes, "base64:..." is arbitrary bytes.
SALT_ARBITRARY = bytes([0x00, 0xFF, 0x10, 0x80, 0x7F, 0x0A, 0x3D, 0x00]) + b"salt"

GROUPS = [
    # (key, env, salt setting, kdf_input)
    ("a", "dev", None, "text"),
    ("a", "dev", None, "bytes"),
    ("a", "prod", None, "text"),
    ("b", "staging", None, "bytes"),
    ("b", "prod", "keysmith-legacy/prod", "text"),
    ("a", "qa", "sälz 🧂", "bytes"),
    ("b", "dev", "base64:" + base64.standard_b64encode(SALT_ARBITRARY).decode(), "text"),
    ("a", "ci", "base64:" + base64.standard_b64encode(b"ci").decode(), "bytes"),
]

# Free-text master keys (--free-text): used as written, always kdf_input=text.
FREE_KEYS = {"pass": "correct horse battery staple", "short": "s3cret"}
FREE_GROUPS = [
    ("pass", "dev", None, "text"),
    ("short", "prod", "", "text"),  # empty salt
]

MESSAGES = [
    "",
    "hello",
    "s3cr3t-Passw0rd!",  # exactly one AES block: padding adds a whole block
    "fifteen bytes!!",  # 15 bytes: one byte of padding
    "seventeen bytes!!",  # 17 bytes
    "postgres://app:p%40ss@db.internal:5432/app?sslmode=require",
    "pässwörd 🔑 日本語 — ünïcödé",
    "line one\nline two\n",
    "-----BEGIN PRIVATE KEY-----\n"
    + "\n".join(
        base64.standard_b64encode(hashlib.sha512(b"pem %d" % i).digest()).decode()[:64]
        for i in range(60)
    )
    + "\n-----END PRIVATE KEY-----\n",  # multi-KB
]


def salt_bytes(env, setting):
    if setting is None:
        return env.encode("utf-8")
    if setting.startswith("base64:"):
        return base64.standard_b64decode(setting[len("base64:"):])
    return setting.encode("utf-8")


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    args = sys.argv[1:]
    free = bool(args) and args[0] == "--free-text"
    if free:
        args = args[1:]
    name = "python-freetext.json" if free else "python-fixtures.json"
    out = args[0] if args else os.path.join(root, "testdata", "legacy", name)

    groups = []
    for key_label, env, salt_setting, kdf_input in (FREE_GROUPS if free else GROUPS):
        if free:
            key_text, key_raw = FREE_KEYS[key_label], None
        else:
            key_text, key_raw = KEYS[key_label]
        salt = salt_bytes(env, salt_setting)
        kdf_in = key_text.encode("utf-8") if kdf_input == "text" else key_raw
        kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=ITERATIONS)
        fernet_key = base64.urlsafe_b64encode(kdf.derive(kdf_in))
        f = Fernet(fernet_key)
        values = []
        for msg in (MESSAGES[:3] if free else MESSAGES):
            plain = msg.encode("utf-8")
            token = f.encrypt_at_time(plain, SIGNED_AT).decode("ascii")
            assert f.decrypt(token) == plain  # no TTL: opens forever
            values.append({"plaintext": msg, "token": token})
        groups.append({
            "env": env,
            "key_text": key_text,
            "key_hex": key_raw.hex() if key_raw else None,
            "salt": salt_setting,
            "salt_hex": salt.hex(),
            "kdf_input": kdf_input,
            "fernet_key": fernet_key.decode("ascii"),
            "values": values,
        })

    doc = {
        "comment": "Made by scripts/make-legacy-fixtures.py; see docs/legacy.md. "
                   "Tokens are random per run; everything else is fixed.",
        "generator": "python %s, cryptography %s" % (sys.version.split()[0], cryptography.__version__),
        "iterations": ITERATIONS,
        "signed_at": SIGNED_AT,
        "groups": groups,
    }
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    n = sum(len(g["values"]) for g in groups)
    print("wrote %d tokens in %d groups to %s" % (n, len(groups), out), file=sys.stderr)


if __name__ == "__main__":
    main()
