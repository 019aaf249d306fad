-- 0004: service tokens, grants, access requests, stubs (issue 5). See
-- docs/service-access.md and docs/vault.md, "Schema".

-- service_tokens: one row per token. The token itself is never stored: id
-- is the public part embedded in it, hash its SHA-256. A service may hold
-- several tokens (rotation); grants belong to the service, not the token.
CREATE TABLE IF NOT EXISTS service_tokens (
	id              TEXT PRIMARY KEY,
	service         TEXT NOT NULL,
	service_version TEXT NOT NULL DEFAULT '',
	hash            BLOB NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'revoked')),
	created_at      TEXT NOT NULL,
	created_by      TEXT NOT NULL,
	decided_at      TEXT,
	decided_by      TEXT,
	last_used       TEXT,
	use_count       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS service_tokens_service ON service_tokens (service);

-- grants: what a service may read, per tenant and secret name. status is
-- active, or revoked/denied (kept with its counters so a revoked or denied
-- service is refused rather than asked again).
CREATE TABLE IF NOT EXISTS grants (
	tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	service      TEXT NOT NULL,
	name         TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'denied')),
	decided_at   TEXT NOT NULL,
	decided_by   TEXT NOT NULL,
	access_count INTEGER NOT NULL DEFAULT 0,
	last_access  TEXT,
	PRIMARY KEY (tenant_id, service, name)
) STRICT;

-- access_requests: a service asking for a secret. At most one pending
-- request per (tenant, service, name): the partial unique index.
CREATE TABLE IF NOT EXISTS access_requests (
	id           INTEGER PRIMARY KEY,
	tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	service      TEXT NOT NULL,
	name         TEXT NOT NULL,
	status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied')),
	requested_by TEXT NOT NULL,
	requested_at TEXT NOT NULL,
	origin       TEXT NOT NULL DEFAULT '',
	decided_at   TEXT,
	decided_by   TEXT
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS access_requests_one_pending ON access_requests (tenant_id, service, name) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS access_requests_status ON access_requests (status, tenant_id);

-- stubs: a secret somebody asked for that has no value yet. No value
-- column: a stub is a name, who asked, and when it was filled by a put.
CREATE TABLE IF NOT EXISTS stubs (
	tenant_id    INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	requested_by TEXT NOT NULL,
	description  TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	filled_at    TEXT,
	PRIMARY KEY (tenant_id, name)
) STRICT;
