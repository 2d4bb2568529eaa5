-- +goose Up
-- The Profiles page (issue 21, store/profile_list.go) searches by prefix
-- of the external id, the email and the phone number, each walked in its
-- index's order with a keyset: the external id's is profiles_external_key,
-- these two are the others' (with id, the order's tie-break). Partial:
-- profiles without an email or a phone number cost them nothing.
CREATE INDEX profiles_list_email_idx ON profiles (workspace_id, email, id) WHERE email <> '';
CREATE INDEX profiles_list_phone_idx ON profiles (workspace_id, phone, id) WHERE phone <> '';

-- +goose Down
DROP INDEX profiles_list_phone_idx;
DROP INDEX profiles_list_email_idx;
