-- Authorization (spec tags `authorization`, `permissions`): resource types, permissions, the
-- permissions of roles, organization (custom) roles, resources and role assignments of
-- organization memberships.
--
-- Resource types form a DAG rooted at `organization` (seeded in every environment, like the
-- `member`/`admin` roles). A type's depth is 1 + the deepest of its parents, so a resource's
-- parent always has a shallower type and the resource tree cannot hold a cycle. Checks walk a
-- resource's ancestors with a recursive query over `authorization_resources_parent`.

create table authorization_resource_types (
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    slug            text collate "C" not null,
    name            text not null,
    description     text,
    depth           integer not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (environment_id, slug)
);
create index authorization_resource_types_created on authorization_resource_types (environment_id, created_at, slug);
create trigger authorization_resource_types_updated_at before update on authorization_resource_types
    for each row execute function set_updated_at();

-- The allowed parent types of a type (a type in use as a parent cannot be deleted).
create table authorization_resource_type_parents (
    environment_id  text collate "C" not null,
    slug            text collate "C" not null,
    parent_slug     text collate "C" not null,
    position        integer not null,
    primary key (environment_id, slug, parent_slug),
    constraint authorization_resource_type_parents_slug_fkey foreign key (environment_id, slug)
        references authorization_resource_types (environment_id, slug) on delete cascade,
    constraint authorization_resource_type_parents_parent_fkey foreign key (environment_id, parent_slug)
        references authorization_resource_types (environment_id, slug)
);
create index authorization_resource_type_parents_parent on authorization_resource_type_parents (environment_id, parent_slug);

create or replace function seed_authorization_resource_types() returns trigger language plpgsql as $$
begin
    insert into authorization_resource_types (environment_id, slug, name, description, depth)
    values (new.id, 'organization', 'Organization', 'The root of every resource tree.', 0);
    return new;
end;
$$;
-- Named so that it fires before `environments_seed_roles` (roles reference their type).
create trigger environments_seed_authorization_types after insert on environments
    for each row execute function seed_authorization_resource_types();
insert into authorization_resource_types (environment_id, slug, name, description, depth)
select id, 'organization', 'Organization', 'The root of every resource tree.', 0 from environments;

-- Permissions, addressed by slug.
create table authorization_permissions (
    environment_id      text collate "C" not null references environments (id) on delete cascade,
    id                  text collate "C" not null,
    slug                text collate "C" not null,
    name                text not null,
    description         text,
    resource_type_slug  text collate "C" not null default 'organization',
    system              boolean not null default false,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    primary key (environment_id, id),
    constraint authorization_permissions_slug_key unique (environment_id, slug),
    constraint authorization_permissions_type_fkey foreign key (environment_id, resource_type_slug)
        references authorization_resource_types (environment_id, slug)
);
create trigger authorization_permissions_updated_at before update on authorization_permissions
    for each row execute function set_updated_at();

-- Roles gain an owner organization (custom roles; null for environment roles) and a resource
-- type of the catalogue. Environment slugs stay unique per environment, organization slugs per
-- organization.
alter table roles add column organization_id text collate "C";
alter table roles add constraint roles_organization_fkey foreign key (environment_id, organization_id)
    references organizations (environment_id, id) on delete cascade;
alter table roles drop constraint roles_slug_key;
create unique index roles_slug_key on roles (environment_id, slug) where organization_id is null;
create unique index roles_organization_slug_key on roles (environment_id, organization_id, slug)
    where organization_id is not null;
alter table roles alter column resource_type_slug type text collate "C";
alter table roles add constraint roles_resource_type_fkey foreign key (environment_id, resource_type_slug)
    references authorization_resource_types (environment_id, slug);

-- The permissions of a role.
create table authorization_role_permissions (
    environment_id  text collate "C" not null,
    role_id         text collate "C" not null references roles (id) on delete cascade,
    permission_id   text collate "C" not null,
    created_at      timestamptz not null default now(),
    primary key (role_id, permission_id),
    constraint authorization_role_permissions_permission_fkey foreign key (environment_id, permission_id)
        references authorization_permissions (environment_id, id) on delete cascade
);
create index authorization_role_permissions_permission on authorization_role_permissions (environment_id, permission_id);

-- Resources: a tree per organization. The parent is in the same organization (the foreign key
-- names it), and deleting a resource deletes its subtree (the API refuses unless asked to).
create table authorization_resources (
    environment_id      text collate "C" not null,
    id                  text collate "C" not null,
    organization_id     text collate "C" not null,
    resource_type_slug  text collate "C" not null,
    external_id         text not null,
    name                text not null,
    description         text,
    parent_resource_id  text collate "C",
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    primary key (environment_id, id),
    constraint authorization_resources_org_id_key unique (environment_id, organization_id, id),
    constraint authorization_resources_external_id_key
        unique (environment_id, organization_id, resource_type_slug, external_id),
    constraint authorization_resources_organization_fkey foreign key (environment_id, organization_id)
        references organizations (environment_id, id) on delete cascade,
    constraint authorization_resources_type_fkey foreign key (environment_id, resource_type_slug)
        references authorization_resource_types (environment_id, slug),
    constraint authorization_resources_parent_fkey
        foreign key (environment_id, organization_id, parent_resource_id)
        references authorization_resources (environment_id, organization_id, id) on delete cascade
);
create index authorization_resources_parent on authorization_resources (environment_id, parent_resource_id, id)
    where parent_resource_id is not null;
create index authorization_resources_organization on authorization_resources (environment_id, organization_id, id);
create trigger authorization_resources_updated_at before update on authorization_resources
    for each row execute function set_updated_at();

-- Roles assigned to organization memberships on resources. `group_role_assignment_id` is set
-- for assignments derived from a group (source `group`).
create table authorization_role_assignments (
    environment_id              text collate "C" not null,
    id                          text collate "C" not null,
    organization_membership_id  text collate "C" not null references organization_memberships (id) on delete cascade,
    role_id                     text collate "C" not null references roles (id),
    resource_id                 text collate "C" not null,
    group_role_assignment_id    text collate "C",
    created_at                  timestamptz not null default now(),
    updated_at                  timestamptz not null default now(),
    primary key (environment_id, id),
    constraint authorization_role_assignments_resource_fkey foreign key (environment_id, resource_id)
        references authorization_resources (environment_id, id) on delete cascade
);
-- The check's lookup: a membership's assignments on one resource.
create unique index authorization_role_assignments_direct_key
    on authorization_role_assignments (environment_id, organization_membership_id, resource_id, role_id)
    where group_role_assignment_id is null;
create index authorization_role_assignments_membership
    on authorization_role_assignments (environment_id, organization_membership_id, id);
create index authorization_role_assignments_resource
    on authorization_role_assignments (environment_id, resource_id, organization_membership_id);
create index authorization_role_assignments_role on authorization_role_assignments (role_id);
create trigger authorization_role_assignments_updated_at before update on authorization_role_assignments
    for each row execute function set_updated_at();
