-- 0001: the initial schema.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Times are timestamptz; storage hands them out as integer milliseconds since the epoch.

-- Accounts. Names keep the case they were registered with and are unique in any case.
-- tokens_valid_after: tokens issued before it are refused (log out everywhere); NULL = none.
CREATE TABLE users (
    id                  bigserial   PRIMARY KEY,
    name                text        NOT NULL,
    password_hash       text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    tokens_valid_after  timestamptz
);
CREATE UNIQUE INDEX users_name_lower_key ON users (lower(name));

-- Single tokens revoked before they expire (log out). Rows past expires_at are useless (the
-- token is refused as expired anyway) and are purged as new revocations come in.
CREATE TABLE revoked_tokens (
    jti         text        PRIMARY KEY,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX revoked_tokens_expires_at_idx ON revoked_tokens (expires_at);

-- Rooms, and later 1:1 conversations (kind 'dm'). last_seq is the seq of the room's latest
-- message: appending bumps it under the row lock, which is what makes seq order equal commit
-- order per room, across every node sharing this database.
CREATE TABLE rooms (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    kind        text        NOT NULL DEFAULT 'room' CHECK (kind IN ('room', 'dm')),
    private     boolean     NOT NULL DEFAULT false,
    topic       text        NOT NULL DEFAULT '',
    owner_id    bigint      REFERENCES users (id) ON DELETE SET NULL,
    last_seq    bigint      NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Who is in which room; read_seq is the last seq the user has marked read.
CREATE TABLE memberships (
    room_id    bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at  timestamptz NOT NULL DEFAULT now(),
    read_seq   bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_user_id_idx ON memberships (user_id);

-- Messages. (room_id, seq) is the history index; (sender_id, nonce) makes a resent message
-- idempotent, also when two nodes race to store the same one.
CREATE TABLE messages (
    id          bigserial   PRIMARY KEY,
    room_id     bigint      NOT NULL REFERENCES rooms (id),
    seq         bigint      NOT NULL,
    sender_id   bigint      NOT NULL REFERENCES users (id),
    nonce       text        NOT NULL,
    text        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_room_seq_key UNIQUE (room_id, seq),
    CONSTRAINT messages_sender_nonce_key UNIQUE (sender_id, nonce)
);
