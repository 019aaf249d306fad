-- PostgreSQL twin of pkg/vault/store/sqlite/migrations/0006_integrity.sql,
-- plus the chain head.
-- devices.mac: HMAC-SHA256 under the row key over the device row's ID,
-- tenant, public device ID, name, hardware UUID and role; NULL until the
-- first unlocked write fills it in (trust on upgrade, like 0005).
ALTER TABLE devices ADD COLUMN mac BYTEA;
-- The caller's address and user agent of each audit row.
ALTER TABLE audit ADD COLUMN ip_address TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_object ON audit (object, tenant, action, seq);
-- audit_head: one row, taken FOR UPDATE by every transaction that appends
-- to the chain (AuditTail) and held until commit, so appends from many
-- hosts are serialised and seq = last + 1 is never computed twice
-- (docs/vault.md, "PostgreSQL").
CREATE TABLE audit_head (
	one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one)
);
INSERT INTO audit_head DEFAULT VALUES;
-- The newest keyed row is where AuditTail starts.
CREATE INDEX audit_keyed ON audit (seq) WHERE mac IS NOT NULL;
