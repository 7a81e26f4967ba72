-- 0050: the password reset limits kept in the database (so that they hold across nodes and
-- workers).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Token buckets that every node shares (chatd/storage/limits.py): `tokens` left at `at`,
-- refilled at the bucket's rate since. A key is kept as its SHA-256 (a reset's key is what
-- someone typed, a name or an address, or a client's IP address: none of it needs keeping).
-- A row whose bucket has refilled is worth nothing and is deleted by the next take of that
-- bucket.
CREATE TABLE rate_limits (
    bucket  text        NOT NULL,
    key     bytea       NOT NULL,
    tokens  float8      NOT NULL,
    at      timestamptz NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX rate_limits_at_idx ON rate_limits (bucket, at);
