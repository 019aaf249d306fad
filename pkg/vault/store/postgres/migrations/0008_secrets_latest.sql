-- PostgreSQL only (SQLite's UNIQUE (tenant_id, name, version) index already
-- serves its LatestSecrets): the index LatestSecrets' DISTINCT ON
-- (name COLLATE "C") ... ORDER BY name COLLATE "C", version DESC walks in
-- order, so "vault ls" reads the newest version of each name without a
-- sort (100,000 names: 837 ms with an external merge sort -> 87 ms,
-- EXPLAIN ANALYZE; docs/benchmarks.md).
CREATE INDEX secrets_latest ON secrets (tenant_id, name COLLATE "C", version DESC);
