-- 0011: full-text search of messages (the `search` request, GET /api/search).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- Each message keeps its words as a tsvector, `words`, a stored generated column: PostgreSQL
-- computes it from `text` in the statement that writes the row, so the append, an edit (which
-- rewrites `text`) and a deletion (which empties it) keep it right without a line of code of
-- their own, and an edited-away word or a deleted message cannot be found. The changes table
-- keeps the words of earlier edits (until a deletion) but is not searched.
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
-- message impossible to store.
--
-- Adding a stored column rewrites the table: on a large history this migration takes a while
-- (about ten seconds per million messages on a small machine), once, at the first start of
-- this version.
ALTER TABLE messages
    ADD COLUMN words tsvector
        GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, left(text, 100000))) STORED;

-- The GIN index the search walks. fastupdate (the default) queues new entries in a pending
-- list that a later insert or vacuum merges: the cheapest upkeep for the send path, measured
-- in benchmarks/README.md ("Issue 15: search"). The list is kept small (512 kB instead of
-- 4 MB), because every search reads all of it and the insert that merges it waits for that.
CREATE INDEX messages_words_idx ON messages USING gin (words)
    WITH (fastupdate = on, gin_pending_list_limit = 512);
