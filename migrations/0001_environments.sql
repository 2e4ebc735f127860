-- Environments (tenants) and what each owns: API keys and JWT signing keys.
-- Ids are prefixed ULIDs in `text collate "C"` columns, so byte order is creation order.

create or replace function set_updated_at() returns trigger as $$
begin
    new.updated_at = now();
    return new;
end;
$$ language plpgsql;

create table environments (
    id          text collate "C" primary key,
    name        text not null,
    production  boolean not null default false,
    client_id   text collate "C" not null unique,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

-- API keys are stored as SHA-256 hex digests; the value is shown once, at creation.
create table api_keys (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    name             text not null,
    key_hash         text not null unique,
    obfuscated_value text not null,
    created_at       timestamptz not null default now(),
    last_used_at     timestamptz,
    revoked_at       timestamptz
);
create index api_keys_environment on api_keys (environment_id, id);

-- RS256 signing keys for access tokens; the PKCS#8 private key is AES-256-GCM encrypted.
create table signing_keys (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    private_key_enc  bytea not null,
    certificate_der  bytea not null,
    created_at       timestamptz not null default now(),
    retired_at       timestamptz
);
create index signing_keys_environment on signing_keys (environment_id, id);
