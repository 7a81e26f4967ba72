-- 0027: "away" presence. A node records, beside each user with a connection there
-- (node_presence, migration 0017), whether all of that user's connections there are idle
-- (their person stopped using them). Written only at the node's transitions for the user
-- (none, all idle, some active), never per request; a dead node's rows go with it as before.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

ALTER TABLE node_presence ADD COLUMN idle boolean NOT NULL DEFAULT false;
