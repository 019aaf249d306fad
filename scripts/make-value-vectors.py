#!/usr/bin/env python3
"""Make known-answer vectors for keysmith's v1 value format (docs/format.md)
with Python's `cryptography` package, independently of the Go code.

    python3 scripts/make-value-vectors.py > testdata/value/vectors.json

Every input is fixed (keys, nonces), so the output is the same on every run.
"""
import base64, hashlib, hmac, json, struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC


def key_id(master: bytes) -> bytes:
    return hmac.new(master, b"keysmith/v1/key-id", hashlib.sha256).digest()[:8]


def stretch(master: bytes, env: str) -> bytes:
    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=32,
                     salt=("keysmith/v1/kdf-salt/" + env).encode(), iterations=100_000)
    return kdf.derive(master)


def ad(label: str, *fields: bytes) -> bytes:
    out = struct.pack(">I", len(label)) + label.encode()
    for f in fields:
        out += struct.pack(">I", len(f)) + f
    return out


def seal(master: bytes, env: str, name: str, nonce: bytes, plaintext: bytes) -> str:
    header = bytes([0x01, 0x01 if name else 0x00]) + key_id(master)
    ct = AESGCM(stretch(master, env)).encrypt(nonce, plaintext, ad("keysmith/v1/value", header, env.encode(), name.encode()))
    body = header + nonce + ct
    return env.upper() + "_ENC:" + base64.urlsafe_b64encode(body).rstrip(b"=").decode()


CASES = [
    # (master key hex, env, name, nonce hex, plaintext)
    ("00" * 32, "dev", "", "00" * 12, b""),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "dev", "", "0f0e0d0c0b0a090807060504", b"hunter2"),
    ("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "dev", "API_KEY_SECRET", "0f0e0d0c0b0a090807060504", b"hunter2"),
    ("ff" * 32, "prod", "DB_PASSWORD_SECRET", "a1" * 12, "pässwörd ✓ with spaces\nand a newline".encode()),
    ("5a" * 32, "int", "CFG_SECRET", "00" * 11 + "01", b'{"a":1,"b":"x y"}'),
    ("5a" * 32, "my-env_2", "X_SECRET", "ff" * 12, bytes(range(256))),
]

vectors = []
for key_hex, env, name, nonce_hex, pt in CASES:
    master = bytes.fromhex(key_hex)
    vectors.append({
        "key_hex": key_hex,
        "key_id": key_id(master).hex(),
        "env": env,
        "name": name,
        "nonce_hex": nonce_hex,
        "plaintext_hex": pt.hex(),
        "value": seal(master, env, name, bytes.fromhex(nonce_hex), pt),
    })
print(json.dumps({"comment": "made by scripts/make-value-vectors.py with Python cryptography", "vectors": vectors}, indent=2))
