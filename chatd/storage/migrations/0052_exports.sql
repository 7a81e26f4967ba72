-- 0052: "Download my data": a user's exports of their own data (chatd/export.py).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- One row per export a user started over HTTP (the command line's `chatd export` writes a
-- file and keeps no row). The row is the export's state for every node: any node answers
-- GET /api/me/export and serves the download, whichever built it. `state`: 'running' while
-- a node builds it, holding a lease (`lease_until`, renewed as it goes: a node that dies
-- leaves a lease that runs out, and the export reads as failed); 'ready' once the archive is
-- placed in the file store under its SHA-256 (`sha256`, `size`), until `expires_at`;
-- 'failed' (`error` says why, in words); 'expired' once the archive is removed from the
-- store. `messages` and `files`: what it holds so far, the progress a page shows. The rows
-- of a user's last hour are their rate limit: kept until long after they expire.
CREATE TABLE exports (
    id           bigserial   PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state        text        NOT NULL DEFAULT 'running'
                             CHECK (state IN ('running', 'ready', 'failed', 'expired')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    lease_until  timestamptz NOT NULL,
    finished_at  timestamptz,
    expires_at   timestamptz,
    sha256       text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size         bigint,
    messages     bigint      NOT NULL DEFAULT 0,
    files        integer     NOT NULL DEFAULT 0,
    error        text,
    CONSTRAINT exports_ready_check CHECK ((state = 'ready') = (sha256 IS NOT NULL))
);
-- A user's latest export, and their exports of the last hour: a walk of their keys.
CREATE INDEX exports_user_idx ON exports (user_id, id);
-- The archives to remove once they expire.
CREATE INDEX exports_expiry_idx ON exports (expires_at) WHERE state = 'ready';
-- At most one export of a user runs at a time (a dead node's is failed before another
-- starts: chatd/storage/exports.py).
CREATE UNIQUE INDEX exports_running_key ON exports (user_id) WHERE state = 'running';
