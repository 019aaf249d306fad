-- 0007: Intel AMT provisioning certificates (docs/amt.md, "Storage").
-- One row per (tenant, name). chain is the DER certificates concatenated,
-- leaf first, root last; subject, root_fingerprint (lowercase hex SHA-256
-- of the root's DER) and not_after (the chain's earliest expiry) are for
-- listings. sealed_key is the leaf's PKCS#8 private key sealed under the
-- tenant DEK of dek_version, with associated data binding tenant, name,
-- SHA-256 of chain and DEK version. allowed is who may ask for a signature
-- ("" any device of the tenant; else lines "device:<dev_id>" and
-- "role:<role>"). mac: HMAC-SHA256 under the row key over tenant_id, name,
-- chain, root_fingerprint and allowed.
CREATE TABLE amt_certs (
	tenant_id        INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name             TEXT NOT NULL,
	chain            BLOB NOT NULL,
	subject          TEXT NOT NULL,
	root_fingerprint TEXT NOT NULL,
	not_after        TEXT NOT NULL,
	dek_version      INTEGER NOT NULL,
	sealed_key       BLOB NOT NULL,
	allowed          TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	created_by       TEXT NOT NULL,
	mac              BLOB NOT NULL,
	PRIMARY KEY (tenant_id, name),
	FOREIGN KEY (tenant_id, dek_version) REFERENCES deks(tenant_id, version)
) STRICT;
