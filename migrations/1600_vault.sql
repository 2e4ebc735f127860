-- Vault (the official SDKs' `/vault/v1/keys/*` and `/vault/v1/kv*`): each environment's root
-- keys, from which a key-encryption key per key context is derived with HKDF, and the
-- key-value objects with their versions. Nothing here is readable without the server's master
-- key: root keys are sealed with it, each version's data key is wrapped under its context's
-- key-encryption key, and values are AES-256-GCM under that data key.

-- An environment's root keys. `sealed_key` is the 32-byte key sealed with the server's master
-- key (`crypto::vault`). One key is active (new data keys are wrapped under it); retired keys
-- still unwrap the data keys made under them, including those held by clients.
create table vault_root_keys (
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    id              text collate "C" not null,
    sealed_key      bytea not null,
    state           text not null default 'active' check (state in ('active', 'retired')),
    created_at      timestamptz not null default now(),
    retired_at      timestamptz,
    primary key (environment_id, id)
);
create unique index vault_root_keys_active on vault_root_keys (environment_id)
    where state = 'active';

-- A named object. `key_context` is the context its versions' data keys are wrapped for,
-- `key_id` the public identifier of that context's key-encryption key.
create table vault_objects (
    environment_id      text collate "C" not null references environments (id) on delete cascade,
    id                  text collate "C" not null,
    name                text collate "C" not null,
    key_context         jsonb not null,
    key_id              text not null,
    current_version_id  text collate "C" not null,
    updated_by_id       text not null,
    updated_by_name     text not null,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    primary key (environment_id, id),
    constraint vault_objects_name_key unique (environment_id, name)
);

-- One version of an object's value: `encrypted_key` is its data key's encrypted key blob
-- (`crypto::data_keys`), `ciphertext` the value sealed under that data key with the version id
-- as associated data, `etag` a digest of the ciphertext (never of the value), `size` the
-- value's length in bytes. `root_key_id` names the root key the data key is wrapped under, so a
-- rotation finds the versions still to re-wrap.
create table vault_object_versions (
    environment_id  text collate "C" not null,
    id              text collate "C" not null,
    object_id       text collate "C" not null,
    root_key_id     text collate "C" not null,
    encrypted_key   bytea not null,
    ciphertext      bytea not null,
    size            integer not null,
    etag            text not null,
    created_at      timestamptz not null default now(),
    primary key (environment_id, id),
    constraint vault_object_versions_object_fkey foreign key (environment_id, object_id)
        references vault_objects (environment_id, id) on delete cascade
);
create index vault_object_versions_object on vault_object_versions (environment_id, object_id, id);
create index vault_object_versions_root_key on vault_object_versions (environment_id, root_key_id);
