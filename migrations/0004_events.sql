-- The event outbox: every mutation writes its event here in the same transaction.
-- `GET /events` reads it; webhook delivery (later) fans out from it.

create table events (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    event            text not null,
    data             jsonb not null,
    organization_id  text collate "C",
    created_at       timestamptz not null default now()
);
create index events_environment on events (environment_id, id);
create index events_environment_event on events (environment_id, event, id);
create index events_environment_organization on events (environment_id, organization_id, id);
