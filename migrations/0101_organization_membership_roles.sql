-- Organization memberships gain every role they hold and free-form `custom_attributes` (spec
-- `UserlandUserOrganizationMembership`). `role_slugs` lists the roles with the primary one
-- (`role_slug`) first; where it is null the membership holds just `role_slug`.

alter table organization_memberships
    add column role_slugs text[],
    add column custom_attributes jsonb not null default '{}';
create index organization_memberships_status on organization_memberships (environment_id, user_id, status);
