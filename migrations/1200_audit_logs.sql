-- Audit Logs (spec tag `audit-logs`): actions, their schema versions, ingested events, and each
-- organization's retention. Exports and log streams come in later migrations of this block.

-- An action (`user.signed_in`), created by its first schema. Listed by id (creation order).
create table audit_log_actions (
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    id              text collate "C" not null,
    name            text not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (environment_id, id),
    constraint audit_log_actions_name_key unique (environment_id, name)
);
create trigger audit_log_actions_updated_at before update on audit_log_actions
    for each row execute function set_updated_at();

-- One version of an action's schema: 1, 2, … in creation order. `actor_metadata`,
-- `targets[].metadata` and `metadata` hold JSON Schemas (as the official SDKs send them).
create table audit_log_schemas (
    environment_id  text collate "C" not null,
    id              text collate "C" not null,
    action_id       text collate "C" not null,
    version         integer not null check (version >= 1),
    actor_metadata  jsonb,
    targets         jsonb not null,
    metadata        jsonb,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    primary key (environment_id, id),
    constraint audit_log_schemas_version_key unique (environment_id, action_id, version),
    foreign key (environment_id, action_id) references audit_log_actions (environment_id, id) on delete cascade
);
create trigger audit_log_schemas_updated_at before update on audit_log_schemas
    for each row execute function set_updated_at();

-- Ingested events: tenant data of one organization, never updated.
create table audit_log_events (
    environment_id   text collate "C" not null,
    id               text collate "C" not null,
    organization_id  text collate "C" not null,
    action           text not null,
    version          integer,
    occurred_at      timestamptz not null,
    actor            jsonb not null,
    targets          jsonb not null,
    context          jsonb not null,
    metadata         jsonb,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (environment_id, id),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
-- Exports and the retention purge scan one organization by time.
create index audit_log_events_organization_time
    on audit_log_events (environment_id, organization_id, occurred_at);

-- Per-organization retention; an organization without a row keeps events 365 days.
create table audit_log_retention (
    environment_id            text collate "C" not null,
    organization_id           text collate "C" not null,
    retention_period_in_days  integer not null check (retention_period_in_days in (30, 365)),
    created_at                timestamptz not null default now(),
    updated_at                timestamptz not null default now(),
    primary key (environment_id, organization_id),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
create trigger audit_log_retention_updated_at before update on audit_log_retention
    for each row execute function set_updated_at();
