-- 0021: a notice when outgoing webhooks or push subscriptions are added or removed, so that a
-- node knows when there are none of either and skips the lookup it would otherwise make
-- after every commit (chatd/httpout.py, Dispatcher: at everyday load, a crossing of the
-- storage bridge and a query each, for nothing on a server without webhooks or pushes).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Channel 'chatd_targets', payload '<application_name> <table>': rows of <table> were added
-- or removed (once per statement, even of no row: a node then looks again whether any is
-- left, which costs one probe). Such statements are rare: a room's webhook set or removed,
-- a browser subscribing to pushes or unsubscribing.
CREATE FUNCTION chatd_notify_targets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('chatd_targets', current_setting('application_name') || ' ' || TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER room_webhooks_targets AFTER INSERT OR DELETE ON room_webhooks
    FOR EACH STATEMENT EXECUTE FUNCTION chatd_notify_targets();
CREATE TRIGGER push_subscriptions_targets AFTER INSERT OR DELETE ON push_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION chatd_notify_targets();
