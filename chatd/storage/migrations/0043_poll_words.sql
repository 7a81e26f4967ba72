-- 0043: a poll's options are searchable.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- The indexer's words of a poll now take its options too (chatd/storage/postgres.py,
-- _INDEXED_TEXT). The polls indexed before lose their words, which queues them for the
-- indexer (messages_unindexed_idx): it sweeps them in the background as it does the messages
-- a dead node left, and until it has they are not found, for the moment that takes. Through
-- polls' key, not a scan of messages.
UPDATE messages SET words = NULL
WHERE id IN (SELECT message_id FROM polls) AND words IS NOT NULL;
