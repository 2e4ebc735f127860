-- Connect applications (spec tags `applications`, `application.client-secrets`): OAuth
-- applications (first-party, or third-party for one organization) and machine-to-machine
-- applications (for one organization), and their client secrets, stored as SHA-256 digests.
-- Deleting the organization deletes its applications; deleting an application its secrets.

create table connect_applications (
    environment_id             text collate "C" not null references environments (id) on delete cascade,
    id                         text collate "C" not null,
    client_id                  text collate "C" not null,
    application_type           text not null check (application_type in ('oauth', 'm2m')),
    name                       text not null,
    description                text,
    scopes                     text[] not null default '{}',
    -- OAuth applications: `[{uri, default}]`, exactly one default when not empty.
    redirect_uris              jsonb not null default '[]',
    uses_pkce                  boolean not null default true,
    is_first_party             boolean not null default false,
    was_dynamically_registered boolean not null default false,
    organization_id            text collate "C",
    created_at                 timestamptz not null default now(),
    updated_at                 timestamptz not null default now(),
    primary key (environment_id, id),
    constraint connect_applications_client_id_key unique (environment_id, client_id),
    constraint connect_applications_organization_fkey foreign key (environment_id, organization_id)
        references organizations (environment_id, id) on delete cascade,
    -- M2M and third-party OAuth applications belong to an organization.
    check (organization_id is not null or (application_type = 'oauth' and is_first_party))
);
create index connect_applications_organization on connect_applications (environment_id, organization_id, id)
    where organization_id is not null;
create trigger connect_applications_updated_at before update on connect_applications
    for each row execute function set_updated_at();

create table connect_client_secrets (
    environment_id  text collate "C" not null,
    id              text collate "C" not null,
    application_id  text collate "C" not null,
    secret_hash     text collate "C" not null,
    secret_hint     text not null,
    last_used_at    timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (environment_id, id),
    constraint connect_client_secrets_application_fkey foreign key (environment_id, application_id)
        references connect_applications (environment_id, id) on delete cascade
);
create index connect_client_secrets_application on connect_client_secrets (environment_id, application_id, id);
create trigger connect_client_secrets_updated_at
    before update of secret_hash, secret_hint on connect_client_secrets
    for each row execute function set_updated_at();
