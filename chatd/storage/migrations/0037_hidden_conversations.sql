-- 0037: closed conversations (the `hide` request).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- A member's closing of a conversation is a marker of their membership, like the read
-- marker: the room's last_seq when they closed it (NULL: not closed). A client shows the
-- conversation again once last_seq passes it, so a message never touches it (nothing on the
-- send path). A column with no default: adding it rewrites no row.
ALTER TABLE memberships ADD COLUMN hidden_seq bigint;
