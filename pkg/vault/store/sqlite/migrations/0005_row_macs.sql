-- 0005: row MACs (docs/vault.md, "Row authentication"). mac is
-- HMAC-SHA256 under the row key (derived from the audit key) over the
-- table name, the primary key and every field an authorisation decision
-- reads; counters (use_count, last_used, access_count, last_access) are
-- not covered. Rows written before this migration have mac NULL until the
-- first unlocked write fills them in (trust on upgrade) and re-wraps the
-- audit key with the "row-macs" associated data; after that a NULL mac is
-- tampering.
ALTER TABLE device_keys ADD COLUMN mac BLOB;
ALTER TABLE service_tokens ADD COLUMN mac BLOB;
ALTER TABLE grants ADD COLUMN mac BLOB;
ALTER TABLE access_requests ADD COLUMN mac BLOB;
