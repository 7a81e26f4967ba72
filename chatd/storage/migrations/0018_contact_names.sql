-- 0018: each contact row keeps the contact's name, so that a user's contacts are read by name
-- from one index (paged welcome and paged contacts, issue 17).
--
-- Applied once per database, in one transaction, by chatd/storage/migrations/__init__.py.
-- Never edit a migration that has shipped: add the next numbered file instead.

-- A hello watches the presence of every contact (their names), and the welcome and the
-- contacts op list them by name ignoring case. Read through users, 10,000 contacts were
-- 10,000 lookups of users_pkey (6 ms), then a sort; a page was either a sort of every
-- contact or a walk of every user by name. A user's name never changes (chatd renames
-- nobody; deleting a user deletes their contact rows), so the row can hold it: then the
-- names are one index-only walk of contacts_user_name_idx, already in order (lower case,
-- code point order, as Python sorts the names, which are ASCII), and a page is a walk of
-- its own rows from the cursor.
ALTER TABLE contacts ADD COLUMN name text;
UPDATE contacts c SET name = u.name FROM users u WHERE u.id = c.contact_id;
ALTER TABLE contacts ALTER COLUMN name SET NOT NULL;
CREATE INDEX contacts_user_name_idx ON contacts (user_id, (lower(name) COLLATE "C"))
    INCLUDE (name);

-- Whoever inserts a contact (chatd's add_contact, a script, a benchmark's loader) gets the
-- name filled in from users: a contact row never holds another name than its user's.
CREATE FUNCTION chatd_contact_name() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.name INTO NEW.name FROM users u WHERE u.id = NEW.contact_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER contacts_name BEFORE INSERT OR UPDATE OF contact_id ON contacts
    FOR EACH ROW EXECUTE FUNCTION chatd_contact_name();
