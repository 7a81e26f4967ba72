-- 0011: full-text search of messages (the `search` request, GET /api/search).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead. (This one was
-- rewritten before any release held it: its first version kept the words in a stored
-- generated column, computed by the statement that stores a message. That cost the send
-- path about 12 µs of PostgreSQL time per message and a fifth of the closed loop's
-- acknowledged sends; see benchmarks/README.md, "Issue 15: search".)
--
-- Each message keeps its words as a tsvector, `words`, filled in AFTER the message is
-- stored and acknowledged, by the daemon's indexer (chatd/indexer.py; the statements are
-- chatd/storage/postgres.py's _INDEX_WORDS): a message is stored with `words` NULL,
-- meaning "not indexed yet", and the indexer, woken by the commit, computes the words of a
-- batch of such messages in one statement a moment later (milliseconds at everyday load;
-- under overload the backlog grows and searches lag, sends do not). A NULL `words` matches
-- no query, negated or not: a message not indexed yet is found by filters alone (from:,
-- in:, dates), never by its words. Zulip keeps its search vector the same way
-- (fts_update_log and process_fts_updates), for the same reason.
--
-- Edits and deletions keep it right in the statement that changes the message
-- (chatd/storage/changes.py): an edit sets `words` back to NULL, so the edited message is
-- re-indexed by the indexer (until then it is found by neither its old words nor its new
-- ones: never by words an edit took away); a deletion sets it to the empty tsvector, which
-- matches nothing and is never indexed again. The changes table keeps the words of earlier
-- edits (until a deletion) but is not searched.
--
-- The text search configuration is 'simple': the default parser, then lower case, no stemming
-- and no stop words. Chat is written in every language, often in several in one room, and a
-- language's stemmer applied to another language's words (or to names, code, URLs) mangles
-- them. Prefix matching is what finds "deployment" from "deploy" here; it needs the lexemes to
-- be the words as written (a stem is not a prefix: english makes "deploy" of "deployment",
-- and "deployme" would then find nothing), and no word is dropped as a stop word, so "to be
-- or not" can still be found. The cost: "deployed" is not found from "deploying" (no common
-- prefix beyond "deploy", which the user may type).
--
-- Only the first 100,000 characters are indexed: a tsvector holds at most 1 MB, and a longer
-- text (possible only where `limits.max_text_chars` was raised that far) must not make its
-- message impossible to index.
--
-- A nullable column without a default is added to the catalog only: the table is not
-- rewritten, so this migration takes about the time of a scan of messages per index (a
-- second or two per million messages), and the existing messages are indexed afterwards,
-- in the background, by the same indexer, newest first.
ALTER TABLE messages ADD COLUMN words tsvector;

-- The GIN index the search walks. Partial: a message not indexed yet has no entry at all
-- (a GIN index otherwise holds an entry for a NULL too), so storing a message never touches
-- it. A search's `words @@ query` implies `words IS NOT NULL` (the operator is strict), which
-- lets the planner use it. fastupdate (the default) queues new entries in a pending list that
-- a later insert or vacuum merges: the indexer's updates then cost a third of what inserting
-- each entry into the tree costs (benchmarks/README.md, "Issue 15: search"). The list is kept
-- small (512 kB instead of 4 MB), because every search reads all of it.
CREATE INDEX messages_words_idx ON messages USING gin (words)
    WITH (fastupdate = on, gin_pending_list_limit = 512)
    WHERE words IS NOT NULL;

-- How the indexer finds the messages to index without scanning the table: the ids of
-- those whose words are NULL, and only those. New messages go in at its right end (ids
-- grow), which costs the insert a small fraction of what the words cost it; the entries of
-- indexed messages are dead from then on and go at the next vacuum. Several nodes share the
-- work through it (FOR UPDATE SKIP LOCKED), and ids committed out of order (sequence values
-- are not commit-ordered across transactions) are found all the same.
CREATE INDEX messages_unindexed_idx ON messages (id) WHERE words IS NULL;
