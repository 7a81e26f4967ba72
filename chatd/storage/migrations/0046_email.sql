-- 0046: email (chatd/mail.py, chatd/emails.py): a user's confirmed address, missed-message
-- emails, and password reset by email.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A user's address, on their row (GET /api/me/email reads it with the token's check's row,
-- and hello reads none of it). `email` is what they gave, as they typed it; it is theirs
-- only once confirmed (the link mailed to it), and unique among confirmed addresses
-- regardless of case: an unconfirmed address proves nothing, so two people may have typed
-- the same one, and the first to confirm it wins (the other's confirmation is then
-- `email_taken`). `email_notify`: missed-message emails, on until they turn them off (or
-- follow a mail's unsubscribe link). Constant defaults: adding them rewrites no row.
ALTER TABLE users
    ADD COLUMN email           text,
    ADD COLUMN email_confirmed boolean NOT NULL DEFAULT false,
    ADD COLUMN email_notify    boolean NOT NULL DEFAULT true;
CREATE UNIQUE INDEX users_confirmed_email_key ON users (lower(email)) WHERE email_confirmed;
-- The users a missed-message email may go to: what `any_email_targets` probes (a server
-- where nobody has one makes no lookup after commits at all, chatd/httpout.py) and what the
-- lookup of a commit's targets ends at.
CREATE INDEX users_email_notify_idx ON users (id) WHERE email_confirmed AND email_notify;

-- A notice on 'chatd_targets' (migration 0021), '<application_name> email', when a statement
-- may have changed who has missed-message emails on: the other nodes look again whether
-- anyone has (one probe). Only statements that name these columns fire it: setting an
-- address, confirming it, turning the emails on or off; never a read marker or a log-in.
CREATE FUNCTION chatd_notify_email_targets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('chatd_targets', current_setting('application_name') || ' email');
    RETURN NULL;
END
$$;
CREATE TRIGGER users_email_targets AFTER UPDATE OF email_confirmed, email_notify ON users
    FOR EACH STATEMENT EXECUTE FUNCTION chatd_notify_email_targets();

-- The tokens of the links mailed: an address's confirmation ('confirm', 24 hours, for the
-- address in `email`: a link to an address changed since confirms nothing) and a password
-- reset ('reset', 1 hour). Only the token's SHA-256 is kept (as invitations, migration
-- 0044: a copy of the database holds no link that works). Single use: `used_at` is set by
-- the statement that spends it, under the row's lock, so two clicks never both count.
CREATE TABLE email_tokens (
    hash        bytea       PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text        NOT NULL CHECK (purpose IN ('confirm', 'reset')),
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX email_tokens_user_idx ON email_tokens (user_id, purpose);

-- Missed messages waiting for their email: a direct message or a mention (`reason`) of
-- `seq` in `room_id` for `user_id`, queued by the node that committed it while the user was
-- offline everywhere (chatd/emails.py). Durable: a restart keeps them. A room deleted, or an
-- account, takes its rows with it.
CREATE TABLE email_queue (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id    bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        bigint      NOT NULL,
    reason     text        NOT NULL CHECK (reason IN ('dm', 'mention')),
    queued_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id, seq)
);

-- One email per user at a time: its row is made by the first message queued
-- (`due_at` = then + `[email] batch_seconds`), the next ones join it. A node claims a due
-- batch FOR UPDATE SKIP LOCKED for a lease (`claimed_until`, `[cluster] claim_lease`), as
-- reminders are claimed (migration 0032): exactly one node sends it. `attempts`: failed
-- sends so far (the next is later each time).
CREATE TABLE email_batches (
    user_id        bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    due_at         timestamptz NOT NULL,
    claimed_until  timestamptz,
    attempts       integer     NOT NULL DEFAULT 0
);
CREATE INDEX email_batches_due_idx ON email_batches (due_at);
