-- PostgreSQL twin of pkg/vault/store/sqlite/migrations/0007_amt_certs.sql:
-- Intel AMT provisioning certificates (docs/amt.md, "Storage").
CREATE TABLE amt_certs (
	tenant_id        BIGINT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
	name             TEXT NOT NULL,
	chain            BYTEA NOT NULL,
	subject          TEXT NOT NULL,
	root_fingerprint TEXT NOT NULL,
	not_after        TEXT NOT NULL,
	dek_version      BIGINT NOT NULL,
	sealed_key       BYTEA NOT NULL,
	allowed          TEXT NOT NULL DEFAULT '',
	created_at       TEXT NOT NULL,
	created_by       TEXT NOT NULL,
	mac              BYTEA NOT NULL,
	PRIMARY KEY (tenant_id, name),
	FOREIGN KEY (tenant_id, dek_version) REFERENCES deks(tenant_id, version)
);
