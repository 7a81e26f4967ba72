-- 0035: user groups (chatd/actions/user_groups.py, chatd/storage/user_groups.py).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A user group is a name a team gives a set of people, mentioned together as @name (Slack's
-- user groups, Mattermost's custom groups, Zulip's user groups). The name is kept in lower
-- case (the protocol folds it); creator_id: who made it (NULL once that account is gone).
CREATE TABLE user_groups (
    id          bigserial   PRIMARY KEY,
    name        text        NOT NULL UNIQUE CONSTRAINT user_groups_name
                                CHECK (name ~ '^[a-z0-9_.-]{1,32}$'),
    description text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 256),
    creator_id  bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Its members: by the group (its primary key: a group's members, a mention's lookup), and by
-- the user (the index: which groups a user is in, for the list's "you").
CREATE TABLE user_group_members (
    group_id bigint NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX user_group_members_user ON user_group_members (user_id);

-- Users and groups share one namespace (@name must mean one thing): a group cannot take a
-- user's name, in any case, and a new account cannot take a group's. Each table's unique
-- index keeps its own names apart; across the two tables no constraint can, so both kinds of
-- insert take one transaction-scoped advisory lock for the lower-case name (the same key for
-- both) before they look at the other table, in a trigger, so that every way an account is
-- made (registration, bots, `chatd user add`, an import) is covered without a change of its
-- statement. The second of two inserts of one name waits for the first to commit or roll
-- back, then reads (a fresh snapshot: READ COMMITTED, a volatile function) whether it took
-- the name. A row refused is skipped (the trigger returns NULL), so the statement inserts
-- nothing and says so as it does for a name taken in its own table: conflict.
-- The key is one of 256 (the two-key form: 36, and the name's hash's low byte): a lock per
-- name would put one entry per row in the shared lock table for a transaction that inserts
-- many accounts at once (an import; 20,000 ran it out of shared memory), where 256 at most
-- fit; two names of one bucket made at the same instant only take turns.
CREATE FUNCTION chatd_lock_name(name text) RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(36, hashtext(lower(name)) & 255)
$$;

CREATE FUNCTION chatd_user_name_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chatd_lock_name(NEW.name);
    IF EXISTS (SELECT 1 FROM user_groups WHERE name = lower(NEW.name)) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_name_not_a_group BEFORE INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION chatd_user_name_free();

CREATE FUNCTION chatd_group_name_free() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM chatd_lock_name(NEW.name);
    IF EXISTS (SELECT 1 FROM users WHERE lower(name) = lower(NEW.name)) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER user_groups_name_not_a_user BEFORE INSERT ON user_groups
    FOR EACH ROW EXECUTE FUNCTION chatd_group_name_free();
