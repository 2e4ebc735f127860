-- Directory Sync (spec tags `directories`, `directory-users`, `directory-groups`): directories fed
-- by a SCIM 2.0 client (the customer's IdP), their users, groups and memberships.
--
-- Users and groups keep the SCIM resource as the IdP last wrote it (`resource`, RFC 7643 JSON
-- without `id`/`meta`/`members`/`password`); the WorkOS objects are derived from it on read. The
-- indexed columns mirror the attributes SCIM clients look resources up by.

create table directories (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    organization_id  text collate "C" not null,
    name             text not null,
    type             text not null,
    state            text not null default 'linked'
                     check (state in ('linked', 'validating', 'invalid_credentials', 'unlinked', 'deleting')),
    external_key     text not null,
    domain           text,
    -- SHA-256 hex of the SCIM bearer token (shown once at creation or rotation).
    scim_token_hash  text not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (environment_id, id),
    constraint directories_scim_token_key unique (scim_token_hash),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
create index directories_environment on directories (environment_id, id);
create index directories_organization on directories (environment_id, organization_id, id);
create trigger directories_updated_at before update on directories
    for each row execute function set_updated_at();

create table directory_users (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null,
    directory_id     text collate "C" not null,
    organization_id  text collate "C" not null,
    user_name        text not null,
    external_id      text,
    active           boolean not null default true,
    resource         jsonb not null,
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, directory_id) references directories (environment_id, id) on delete cascade
);
-- RFC 7643 §4.1: userName is unique within the service provider (here: the directory),
-- compared case-insensitively.
create unique index directory_users_user_name_key on directory_users (directory_id, lower(user_name));
create index directory_users_directory on directory_users (environment_id, directory_id, id);
create index directory_users_external_id on directory_users (directory_id, external_id);
create trigger directory_users_updated_at before update on directory_users
    for each row execute function set_updated_at();

create table directory_groups (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null,
    directory_id     text collate "C" not null,
    organization_id  text collate "C" not null,
    display_name     text not null,
    external_id      text,
    resource         jsonb not null,
    version          integer not null default 1,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, directory_id) references directories (environment_id, id) on delete cascade
);
create index directory_groups_directory on directory_groups (environment_id, directory_id, id);
create index directory_groups_display_name on directory_groups (directory_id, lower(display_name));
create index directory_groups_external_id on directory_groups (directory_id, external_id);
create trigger directory_groups_updated_at before update on directory_groups
    for each row execute function set_updated_at();

create table directory_group_members (
    environment_id   text collate "C" not null,
    group_id         text collate "C" not null,
    user_id          text collate "C" not null,
    created_at       timestamptz not null default now(),
    primary key (group_id, user_id),
    foreign key (environment_id, group_id) references directory_groups (environment_id, id) on delete cascade,
    foreign key (environment_id, user_id) references directory_users (environment_id, id) on delete cascade
);
create index directory_group_members_user on directory_group_members (user_id, group_id);
