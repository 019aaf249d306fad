-- 0001: the first vault schema. See docs/vault.md, "Schema".

-- meta holds one row per vault-wide setting: format, vault_id, env, key_id,
-- audit_key (wrapped), created_at.
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

CREATE TABLE tenants (
	id          INTEGER PRIMARY KEY,
	name        TEXT NOT NULL UNIQUE,
	dek_version INTEGER NOT NULL,
	created_at  TEXT NOT NULL
) STRICT;

-- deks holds each tenant's data keys, only ever wrapped under the KEK.
CREATE TABLE deks (
	tenant_id  INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	version    INTEGER NOT NULL,
	wrapped    BLOB NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (tenant_id, version)
) STRICT;

-- secrets holds every version of every secret, sealed under a tenant DEK.
CREATE TABLE secrets (
	id          INTEGER PRIMARY KEY,
	tenant_id   INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	version     INTEGER NOT NULL,
	dek_version INTEGER NOT NULL,
	sealed      BLOB NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	deleted_at  TEXT,
	UNIQUE (tenant_id, name, version),
	FOREIGN KEY (tenant_id, dek_version) REFERENCES deks(tenant_id, version)
) STRICT;

-- audit is append-only and chained: see docs/vault.md, "Audit chain".
-- mac is NULL for rows written without the key (failed unlocks).
CREATE TABLE audit (
	seq     INTEGER PRIMARY KEY,
	ts      TEXT NOT NULL,
	actor   TEXT NOT NULL,
	action  TEXT NOT NULL,
	tenant  TEXT NOT NULL,
	object  TEXT NOT NULL,
	success INTEGER NOT NULL,
	detail  TEXT NOT NULL DEFAULT '',
	mac     BLOB
) STRICT;
