-- Feature Flags (spec tags `feature-flags`, `feature-flags.targets`, `organizations.feature-flags`,
-- `user-management.users.feature-flags`): flags, their organization and user targets, and a
-- per-environment version that `GET /sdk/feature-flags` and the OFREP bulk evaluation use as
-- their ETag.

create table feature_flags (
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    id              text collate "C" not null,
    slug            text collate "C" not null,
    name            text not null,
    description     text,
    tags            text[] not null default '{}',
    enabled         boolean not null default false,
    default_value   boolean not null default false,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (environment_id, id),
    constraint feature_flags_slug_key unique (environment_id, slug)
);
create trigger feature_flags_updated_at before update on feature_flags
    for each row execute function set_updated_at();

-- One target of a flag: exactly one of an organization or a user of the same environment, with
-- the value it is served (`true` through the API). Deleting the flag, the organization or the
-- user deletes the target.
create table feature_flag_targets (
    environment_id   text collate "C" not null,
    flag_id          text collate "C" not null,
    organization_id  text collate "C",
    user_id          text collate "C",
    enabled          boolean not null default true,
    created_at       timestamptz not null default now(),
    check (num_nonnulls(organization_id, user_id) = 1),
    constraint feature_flag_targets_flag_fkey foreign key (environment_id, flag_id)
        references feature_flags (environment_id, id) on delete cascade,
    constraint feature_flag_targets_organization_fkey foreign key (environment_id, organization_id)
        references organizations (environment_id, id) on delete cascade,
    constraint feature_flag_targets_user_fkey foreign key (environment_id, user_id)
        references users (environment_id, id) on delete cascade,
    constraint feature_flag_targets_organization_key unique (environment_id, flag_id, organization_id),
    constraint feature_flag_targets_user_key unique (environment_id, flag_id, user_id)
);
create index feature_flag_targets_organization on feature_flag_targets (environment_id, organization_id)
    where organization_id is not null;
create index feature_flag_targets_user on feature_flag_targets (environment_id, user_id)
    where user_id is not null;

-- The environment's flag version: bumped by any change to its flags or targets (including the
-- cascades above), in the changing transaction. No foreign key: a cascade from a deleted
-- environment bumps it after the environment row is gone.
create table feature_flag_versions (
    environment_id  text collate "C" primary key,
    version         bigint not null
);

create or replace function bump_feature_flag_version() returns trigger language plpgsql as $$
declare
    env text;
begin
    if tg_op = 'DELETE' then
        env := old.environment_id;
    else
        env := new.environment_id;
    end if;
    insert into feature_flag_versions (environment_id, version) values (env, 1)
        on conflict (environment_id) do update set version = feature_flag_versions.version + 1;
    return null;
end;
$$;
create trigger feature_flags_version after insert or update or delete on feature_flags
    for each row execute function bump_feature_flag_version();
create trigger feature_flag_targets_version after insert or update or delete on feature_flag_targets
    for each row execute function bump_feature_flag_version();
