-- Sessions started by a public client (an authorization-code exchange with a PKCE
-- `code_verifier` and no `client_secret`, as AuthKit in the browser does) remember that client's
-- id: a refresh with that `client_id` and no secret is accepted for them only. Null for every
-- session started with a secret (their refresh tokens still need it).
alter table sessions add column public_client_id text collate "C";
