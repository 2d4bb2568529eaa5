-- +goose Up
-- The Profiles page (issue 21, store/profile_list.go) searches by prefix
-- of the external id, the email and the phone number, each walked in its
-- index's order with a keyset. A prefix is a range only in byte order, so
-- the page compares in the "C" collation, and these indexes are in it
-- (whatever the database's default): one per searched column, with id
-- as the order's tie-break where the column is not unique. Partial:
-- profiles without an email or a phone number cost them nothing.
CREATE INDEX profiles_list_external_idx ON profiles (workspace_id, external_id COLLATE "C");
CREATE INDEX profiles_list_email_idx ON profiles (workspace_id, email COLLATE "C", id) WHERE email <> '';
CREATE INDEX profiles_list_phone_idx ON profiles (workspace_id, phone COLLATE "C", id) WHERE phone <> '';

-- +goose Down
DROP INDEX profiles_list_phone_idx;
DROP INDEX profiles_list_email_idx;
DROP INDEX profiles_list_external_idx;
