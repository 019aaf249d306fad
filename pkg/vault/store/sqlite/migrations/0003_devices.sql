-- 0003: devices, device keys, challenges, device secrets, provisioning reports (issue 4).
-- See docs/device.md, "What the vault stores".

-- devices: one row per device of a tenant. device_id is the public ID
-- ("dev_" + 16 hex), unique in the vault; names are unique per tenant; the
-- hardware UUID (lowercase, 8-4-4-4-12) is optional and unique per tenant
-- (NULLs do not collide). The unique indexes serve the lookups.
CREATE TABLE devices (
	id          INTEGER PRIMARY KEY,
	tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	device_id   TEXT NOT NULL UNIQUE,
	name        TEXT NOT NULL,
	device_uuid TEXT,
	role        TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	UNIQUE (tenant_id, name),
	UNIQUE (tenant_id, device_uuid)
) STRICT;

-- device_keys: public keys only (DER SPKI, 91 bytes for P-256) and their
-- fingerprint, lowercase hex SHA-256 of the SPKI. A key is never deleted
-- while its device exists: revoking sets status and revoked_at.
CREATE TABLE device_keys (
	id          INTEGER PRIMARY KEY,
	tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	device_ref  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	key_id      TEXT NOT NULL UNIQUE,
	spki        BLOB NOT NULL,
	fingerprint TEXT NOT NULL,
	role        TEXT NOT NULL,
	origin      TEXT NOT NULL CHECK (origin IN ('provisioned', 'enrolled')),
	status      TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	revoked_at  TEXT,
	UNIQUE (tenant_id, fingerprint)
) STRICT;
CREATE INDEX device_keys_device ON device_keys (device_ref, status);

-- device_challenges: issued nonces (32 random bytes). consumed_at is set in
-- the transaction of the one successful verify.
CREATE TABLE device_challenges (
	nonce       BLOB PRIMARY KEY,
	tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	device_ref  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	created_at  TEXT NOT NULL,
	expires_at  TEXT NOT NULL,
	consumed_at TEXT,
	consumed_by TEXT
) STRICT;
CREATE INDEX device_challenges_device ON device_challenges (device_ref);

-- device_secrets: every version of every device secret, sealed under the
-- tenant DEK with the tenant, device ID, device UUID and name bound in the
-- associated data (docs/device.md, "What the vault stores").
CREATE TABLE device_secrets (
	id          INTEGER PRIMARY KEY,
	tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	device_ref  INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	dek_version INTEGER NOT NULL,
	sealed      BLOB NOT NULL,
	source      TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	UNIQUE (device_ref, name, version),
	FOREIGN KEY (tenant_id, dek_version) REFERENCES deks(tenant_id, version)
) STRICT;

-- device_reports: provisioning reports applied, one per (tenant, request_id).
-- digest is HMAC-SHA256 under a key derived from the audit key over the
-- report's canonical form: it tells "the same report again" from "another
-- report with this request_id" without storing anything guessable.
CREATE TABLE device_reports (
	id          INTEGER PRIMARY KEY,
	tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	request_id  TEXT NOT NULL,
	device_ref  INTEGER REFERENCES devices(id) ON DELETE SET NULL,
	device_uuid TEXT NOT NULL,
	digest      BLOB NOT NULL,
	secrets     INTEGER NOT NULL,
	applied_at  TEXT NOT NULL,
	applied_by  TEXT NOT NULL,
	UNIQUE (tenant_id, request_id)
) STRICT;
