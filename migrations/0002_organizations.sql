-- Organizations and their domains (spec tag `organizations`, `organization-domains`).

create table organizations (
    id                                   text collate "C" primary key,
    environment_id                       text collate "C" not null references environments (id) on delete cascade,
    name                                 text not null,
    external_id                          text,
    metadata                             jsonb not null default '{}',
    stripe_customer_id                   text,
    allow_profiles_outside_organization  boolean not null default false,
    created_at                           timestamptz not null default now(),
    updated_at                           timestamptz not null default now(),
    unique (environment_id, id),
    constraint organizations_external_id_key unique (environment_id, external_id)
);
create index organizations_environment on organizations (environment_id, id);
create trigger organizations_updated_at before update on organizations
    for each row execute function set_updated_at();

create table organization_domains (
    id                     text collate "C" primary key,
    environment_id         text collate "C" not null,
    organization_id        text collate "C" not null,
    domain                 text not null,
    state                  text not null check (state in ('failed', 'legacy_verified', 'pending', 'unverified', 'verified')),
    verification_prefix    text,
    verification_token     text,
    verification_strategy  text not null check (verification_strategy in ('dns', 'manual')),
    created_at             timestamptz not null default now(),
    updated_at             timestamptz not null default now(),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade,
    constraint organization_domains_domain_key unique (environment_id, organization_id, domain)
);
-- A domain can be verified by one organization of an environment at a time.
create unique index organization_domains_verified_key on organization_domains (environment_id, domain)
    where state in ('verified', 'legacy_verified');
create index organization_domains_domain on organization_domains (environment_id, domain);
create index organization_domains_organization on organization_domains (environment_id, organization_id, id);
create trigger organization_domains_updated_at before update on organization_domains
    for each row execute function set_updated_at();
