-- 0032: scheduled messages (the `schedule`, `scheduled_items`, `edit_scheduled` and
-- `cancel_scheduled` requests), and a lease on a reminder's claim.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A scheduled message is its user's own until it is sent: a row here, no entry of any log.
-- At send_at a node's due loop (chatd/reminders.py) claims it (FOR UPDATE SKIP LOCKED) for a
-- lease (claimed_until) and sends it through the committer as its user, with the nonce
-- 'sched:<id>': a node that dies between the claim and the commit leaves the row to be
-- claimed again once the lease is over, and the nonce keeps a second send from storing it
-- twice. Stored, the row is deleted; refused, it stays as 'failed' with the refusal (error:
-- {"code", "message"}) until its user reschedules or cancels it. thread, reply_to: msg ids
-- checked at send time as a send checks them (no keys: a message purged meanwhile makes the
-- send fail, saying so), as are the room (deleted, archived) and the user's membership.
CREATE TABLE scheduled (
    id            bigserial   PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id       bigint      NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    text          text        NOT NULL,
    thread        bigint,
    broadcast     boolean     NOT NULL DEFAULT false,
    reply_to      bigint,
    send_at       timestamptz NOT NULL,
    created       timestamptz NOT NULL DEFAULT now(),
    state         text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
    error         jsonb,
    claimed_until timestamptz
);

-- The items still to send, soonest first: what every node's due loop reads (the next due
-- time) and claims, small however many items failed.
CREATE INDEX scheduled_due_idx ON scheduled (send_at) WHERE state = 'pending';
-- A user's items by time: their list, the count against limits.scheduled_per_user and the
-- welcome's scheduled_count / scheduled_failed.
CREATE INDEX scheduled_user_idx ON scheduled (user_id, send_at);

-- Files reserved for a scheduled item: unattached uploads that the sweep of expired uploads
-- (chatd/files.py, collect) leaves alone while an item holds them; the send attaches them as
-- a send does. A cancelled item's files are released (expired at once).
ALTER TABLE files ADD COLUMN IF NOT EXISTS scheduled_id bigint
    REFERENCES scheduled (id) ON DELETE SET NULL;
CREATE INDEX files_scheduled_idx ON files (scheduled_id) WHERE scheduled_id IS NOT NULL;

-- A reminder's claim (chatd/reminders.py): until claimed_until no other node takes it; the
-- claiming node marks it reminded once it has told its user. A node that died before that
-- leaves it to be claimed again after the lease. The index of the reminders to send is
-- unchanged (claimed ones are still NOT reminded).
ALTER TABLE saved ADD COLUMN IF NOT EXISTS claimed_until timestamptz;
