#!/usr/bin/env python3
"""Independent generator of envelope-kat.json (python3 + cryptography).

Run from this directory: python3 kat.py > envelope-kat.json
It recomputes docs/vault.md's key hierarchy and AD layouts without any
keysmith code, so envelope_test.go checks Go against a second implementation.
"""
import hashlib, hmac, json, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

def ad(label, *fields):
    out = struct.pack(">I", len(label)) + label.encode()
    for f in fields:
        out += struct.pack(">I", len(f)) + f
    return out

def be64(n): return struct.pack(">Q", n)

def hkdf_sha256(ikm, info, length=32, salt=b""):
    prk = hmac.new(salt or b"\0" * 32, ikm, hashlib.sha256).digest()
    t, okm, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t; i += 1
    return okm[:length]

vectors = []
for mk_hex, env, vault_id, tenant, dekv, dek, n1, name, ver, pt, n2 in [
    ("11" * 32, "dev", bytes(range(16)), 1, 1, bytes([0xd0 + i % 16 for i in range(32)]), bytes(range(12)), "DB_PASSWORD", 1, b"hunter2", bytes(range(100, 112))),
    ("00112233445566778899aabbccddeeff" * 2, "prod", b"\xaa" * 16, 7, 3, b"\x42" * 32, b"\x01" * 12, "amt/password", 12, b"", b"\x02" * 12),
]:
    mk = bytes.fromhex(mk_hex)
    root = hashlib.pbkdf2_hmac("sha256", mk, ("keysmith/v1/vault/" + env).encode(), 100_000, 32)
    kek = hkdf_sha256(root, b"keysmith/v1/vault/kek")
    dek_ad = ad("keysmith/v1/vault/dek", vault_id, be64(tenant), be64(dekv))
    wrapped = n1 + AESGCM(kek).encrypt(n1, dek, dek_ad)
    val_ad = ad("keysmith/v1/vault/value", be64(tenant), name.encode(), be64(ver), be64(dekv))
    sealed = n2 + AESGCM(dek).encrypt(n2, pt, val_ad)
    vectors.append(dict(master_key=mk_hex, env=env, vault_id=vault_id.hex(), tenant_id=tenant, dek_version=dekv,
        dek=dek.hex(), dek_nonce=n1.hex(), name=name, version=ver, plaintext=pt.hex(), value_nonce=n2.hex(),
        root=root.hex(), kek=kek.hex(), wrapped_dek=wrapped.hex(), sealed_value=sealed.hex()))
print(json.dumps(vectors, indent=2))
