-- API Keys (spec tags `api_keys`, `organizations.api_keys`): the keys a SaaS application issues
-- to its customers' organizations and their users, validated with `POST /api_keys/validations`.
-- Named apart from `api_keys` (migration 0001), which holds Keystead's own environment keys:
-- the two never authenticate for each other.
--
-- A key belongs to an organization; a user key also names its owner, who must be an active
-- member of that organization. The value (`sk_…`) is shown once and stored as its SHA-256 digest.
-- Deleting the organization or the user deletes their keys.

create table product_api_keys (
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    id               text collate "C" not null,
    organization_id  text collate "C" not null,
    user_id          text collate "C",
    name             text not null,
    key_hash         text collate "C" not null,
    obfuscated_value text not null,
    permissions      text[] not null default '{}',
    expires_at       timestamptz,
    last_used_at     timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (environment_id, id),
    constraint product_api_keys_hash_key unique (environment_id, key_hash),
    constraint product_api_keys_organization_fkey foreign key (environment_id, organization_id)
        references organizations (environment_id, id) on delete cascade,
    constraint product_api_keys_user_fkey foreign key (environment_id, user_id)
        references users (environment_id, id) on delete cascade
);
create index product_api_keys_organization on product_api_keys (environment_id, organization_id, id)
    where user_id is null;
create index product_api_keys_user on product_api_keys (environment_id, user_id, id)
    where user_id is not null;
-- Recording a use (`last_used_at`) is not a change of the key.
create trigger product_api_keys_updated_at
    before update of name, permissions, expires_at on product_api_keys
    for each row execute function set_updated_at();

-- Every server caches validated keys; a deleted key (directly or through a cascade) and a key
-- whose expiry changed are announced on this channel, with `<environment_id>:<key_hash>` as
-- payload, at commit. (Touching `last_used_at` announces nothing.)
create or replace function notify_product_api_key_change() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' or old.expires_at is distinct from new.expires_at then
        perform pg_notify('keystead_product_api_key_changed', old.environment_id || ':' || old.key_hash);
    end if;
    return null;
end;
$$;
create trigger product_api_keys_notify after update or delete on product_api_keys
    for each row execute function notify_product_api_key_change();
