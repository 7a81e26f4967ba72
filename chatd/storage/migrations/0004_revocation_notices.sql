-- 0004: a notice whenever tokens are revoked, so that every node ends the live sessions they
-- opened, whichever node (or `chatd user passwd`) revoked them.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Channel 'chatd_revocations'. Payloads:
--     '<application_name> jti <jti>'            one token was revoked (a log-out)
--     '<application_name> user <ms> <name>'     every token of <name> issued before <ms>
--                                               (ms since the epoch) was (a log-out
--                                               everywhere, a new password)
-- The name goes last: it is the rest of the payload, whatever it contains.
CREATE FUNCTION chatd_notify_revoked_token() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_revocations',
        current_setting('application_name') || ' jti ' || NEW.jti
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER revoked_tokens_notify
    AFTER INSERT OR UPDATE ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION chatd_notify_revoked_token();

CREATE FUNCTION chatd_notify_tokens_valid_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(
        'chatd_revocations',
        current_setting('application_name') || ' user '
            || floor(extract(epoch FROM NEW.tokens_valid_after) * 1000)::bigint || ' '
            || NEW.name
    );
    RETURN NULL;
END
$$;

CREATE TRIGGER users_notify_tokens_valid_after
    AFTER UPDATE OF tokens_valid_after ON users
    FOR EACH ROW
    WHEN (NEW.tokens_valid_after IS NOT NULL
          AND NEW.tokens_valid_after IS DISTINCT FROM OLD.tokens_valid_after)
    EXECUTE FUNCTION chatd_notify_tokens_valid_after();
