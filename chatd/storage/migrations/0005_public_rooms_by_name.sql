-- 0005: the public room list is paged by name, in code point order (COLLATE "C", as Python
-- sorts): "the next page after <name>" walks this index from <name> and stops at the page's
-- end, whatever the number of rooms. The index of 0002 was in the database's collation, which
-- an ORDER BY ... COLLATE "C" cannot use; this one replaces it.
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
CREATE INDEX rooms_public_name_c_idx ON rooms (name COLLATE "C")
    WHERE NOT private AND kind = 'room';
DROP INDEX rooms_public_name_idx;
