-- 0041: a user's own sidebar sections (create_section, edit_section, delete_section,
-- set_section).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.
--
-- The sections are a list on the user's row, in the user's order, as the protocol carries them
-- ([{"id", "name", "collapsed"}, ...]; NULL: none): the hello's first statement reads the
-- user's row already, so the welcome carries them without a statement or a join of its own,
-- and a change of the list (a few dozen entries at most: limits.sections_per_user) is one
-- row's update under that row's lock, which orders it with every other change of the list.
-- Which section a room is in is a column of the membership, like favourite_at (NULL: the
-- default lists): the room objects read it from the membership row they already read, leaving
-- a room drops it with the row, and joining again starts without it. No foreign key can point
-- into a list, so deleting a section clears its memberships in the same transaction as the
-- list's update, and a move checks the section against the list it holds locked.
-- Ids come from a sequence of their own: never reused, so a request naming a deleted section
-- is refused rather than taken for a newer one. Columns with no default: adding them rewrites
-- no row.
ALTER TABLE users ADD COLUMN sections jsonb;
ALTER TABLE memberships ADD COLUMN section bigint;
CREATE SEQUENCE section_ids;
