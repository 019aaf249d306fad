-- 0006: integrity (docs/vault.md, "Row authentication", "Audit chain").
-- devices.mac: HMAC-SHA256 under the row key over the device row's ID,
-- tenant, public device ID, name, hardware UUID and role; NULL until the
-- first unlocked write fills it in (trust on upgrade, like 0005).
ALTER TABLE devices ADD COLUMN mac BLOB;
-- The caller's address and user agent of each audit row ("local" and
-- "keysmith/<version> (cli)" for the CLI). Rows written before this
-- migration have "" and their chain bytes are unchanged.
ALTER TABLE audit ADD COLUMN ip_address TEXT NOT NULL DEFAULT '';
ALTER TABLE audit ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
-- The newest audit row of an action about one object (a secret's last put,
-- a token's last decision) is looked up on every read that decides: see
-- docs/vault.md, "State against the chain".
CREATE INDEX audit_object ON audit (object, tenant, action, seq);
