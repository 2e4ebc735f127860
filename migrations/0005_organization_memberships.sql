-- Organization memberships: the link between users and organizations. The membership API
-- (`/user_management/organization_memberships`) builds on this table; `GET
-- /user_management/users?organization_id=` and session organization scoping read it already.

create table organization_memberships (
    id                text collate "C" primary key,
    environment_id    text collate "C" not null,
    user_id           text collate "C" not null,
    organization_id   text collate "C" not null,
    role_slug         text not null default 'member',
    status            text not null default 'active' check (status in ('active', 'inactive', 'pending')),
    directory_managed boolean not null default false,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade,
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade,
    constraint organization_memberships_user_organization_key unique (environment_id, user_id, organization_id)
);
create index organization_memberships_organization on organization_memberships (environment_id, organization_id, id);
create index organization_memberships_user on organization_memberships (environment_id, user_id, id);
create trigger organization_memberships_updated_at before update on organization_memberships
    for each row execute function set_updated_at();
