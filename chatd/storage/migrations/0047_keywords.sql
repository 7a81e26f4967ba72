-- 0047: notification keywords (the `keywords` and `set_keywords` requests, the `keywords`
-- event, pushes of kind "keyword").
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A user's keywords (Slack's "My keywords", Zulip's alert words) are a list on their row, in
-- their order, as stored by set_keywords (trimmed, duplicates folded ignoring case; NULL:
-- none, never an empty array): the hello's first statement and a token's check read the row
-- already, so the welcome carries them without a statement of its own. A column with no
-- default: adding it rewrites no row.
--
-- The pusher matches them against new messages (chatd.keywords), off the send path: its
-- lookup (Storage.push_targets) starts from the users who have any, through this partial
-- index, then probes each one's membership of the batch's rooms by its primary key. When
-- nobody has keywords that is one probe of an empty index; the committer's statements and
-- the memberships table are untouched.
ALTER TABLE users ADD COLUMN keywords text[];
CREATE INDEX users_keywords_idx ON users (id) WHERE keywords IS NOT NULL;
