-- SSO logins started by `GET /user_management/authorize` (connection_id / organization_id /
-- provider): the pending request remembers that its answer is a User Management
-- authorization code, not an SSO code.
alter table sso_requests add column user_management boolean not null default false;

-- Identities from enterprise SSO connections (SAML, OIDC) are unique per connection: two
-- organizations' IdPs may use the same subject ids. OAuth provider identities (no connection)
-- stay unique per provider.
alter table user_identities add column connection_id text collate "C";
alter table user_identities drop constraint user_identities_provider_key;
create unique index user_identities_provider_key on user_identities (environment_id, provider, idp_id)
    where connection_id is null;
create unique index user_identities_connection_key on user_identities (environment_id, connection_id, idp_id)
    where connection_id is not null;
