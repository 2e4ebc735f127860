-- Enterprise SSO (spec tags `connections`, `sso`): connections with their domains, the
-- in-flight login requests (SAML AuthnRequests, OIDC/OAuth authorization requests), the SAML
-- assertion replay cache, profiles, and the one-time codes and tokens of the SSO API.

create table connections (
    id                   text collate "C" primary key,
    environment_id       text collate "C" not null references environments (id) on delete cascade,
    organization_id      text collate "C",
    connection_type      text not null,
    name                 text not null,
    state                text not null check (state in ('draft', 'active', 'inactive', 'validating', 'deleting')),
    protocol             text not null check (protocol in ('saml', 'oidc', 'oauth')),
    -- Non-secret protocol settings (IdP entity id, SSO URL, certificates, endpoints, flags).
    settings             jsonb not null default '{}',
    -- OIDC/OAuth client secret, AES-256-GCM under the server key.
    client_secret_enc    bytea,
    -- SAML SP signing/encryption key (PKCS#8, encrypted) and its self-signed certificate.
    sp_private_key_enc   bytea,
    sp_certificate_der   bytea,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
create index connections_environment on connections (environment_id, id);
create index connections_organization on connections (environment_id, organization_id, id);
create trigger connections_updated_at before update on connections
    for each row execute function set_updated_at();

create table connection_domains (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    connection_id   text collate "C" not null,
    domain          text not null,
    foreign key (environment_id, connection_id) references connections (environment_id, id) on delete cascade,
    constraint connection_domains_domain_key unique (environment_id, connection_id, domain)
);
create index connection_domains_domain on connection_domains (environment_id, domain);

-- One row per login started at `/sso/authorize`; its id is the SAML AuthnRequest ID or the
-- OIDC `state`, so the ACS/callback can find it (InResponseTo) and consume it once.
create table sso_requests (
    id                     text collate "C" primary key,
    environment_id         text collate "C" not null,
    connection_id          text collate "C" not null,
    redirect_uri           text not null,
    client_state           text,
    nonce                  text,
    pkce_verifier          text,
    code_challenge         text,
    code_challenge_method  text,
    expires_at             timestamptz not null,
    consumed_at            timestamptz,
    created_at             timestamptz not null default now(),
    foreign key (environment_id, connection_id) references connections (environment_id, id) on delete cascade
);
create index sso_requests_expiry on sso_requests (expires_at);

-- Assertion ids seen per connection, kept until the assertion could no longer be accepted.
create table saml_assertion_ids (
    environment_id  text collate "C" not null,
    connection_id   text collate "C" not null,
    assertion_id    text not null,
    expires_at      timestamptz not null,
    primary key (environment_id, connection_id, assertion_id),
    foreign key (environment_id, connection_id) references connections (environment_id, id) on delete cascade
);
create index saml_assertion_ids_expiry on saml_assertion_ids (expires_at);

-- The WorkOS Profile: one per (connection, IdP user), refreshed at every login.
create table sso_profiles (
    id                 text collate "C" primary key,
    environment_id     text collate "C" not null,
    connection_id      text collate "C" not null,
    organization_id    text collate "C",
    connection_type    text not null,
    idp_id             text not null,
    email              text not null,
    first_name         text,
    last_name          text,
    name               text,
    role_slug          text,
    groups             jsonb not null default '[]',
    raw_attributes     jsonb not null default '{}',
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, connection_id) references connections (environment_id, id) on delete cascade,
    constraint sso_profiles_idp_key unique (environment_id, connection_id, idp_id)
);
create trigger sso_profiles_updated_at before update on sso_profiles
    for each row execute function set_updated_at();

-- Authorization codes (single use, 10 minutes), SSO access tokens and logout tokens, stored
-- as SHA-256 digests.
create table sso_tokens (
    token_hash             text primary key,
    environment_id         text collate "C" not null,
    kind                   text not null check (kind in ('code', 'access', 'logout')),
    profile_id             text collate "C" not null,
    code_challenge         text,
    code_challenge_method  text,
    oauth_tokens           jsonb,
    expires_at             timestamptz not null,
    used_at                timestamptz,
    created_at             timestamptz not null default now(),
    foreign key (environment_id, profile_id) references sso_profiles (environment_id, id) on delete cascade
);
create index sso_tokens_expiry on sso_tokens (expires_at);
