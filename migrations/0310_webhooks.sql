-- Webhook endpoints (spec tag `webhooks`) and durable delivery from the event outbox.
--
-- Fan-out happens in the database: a trigger on `events` inserts one `webhook_deliveries` row per
-- enabled, subscribed endpoint in the same transaction as the event, so a committed event is
-- always queued and a rolled-back one never is. Workers claim due rows with
-- `for update skip locked` and a lease (`next_attempt_at` pushed forward), send the HTTP POST
-- outside any transaction, then record the attempt.

create table webhook_endpoints (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    endpoint_url    text not null,
    -- The `whsec_…` signing secret, AES-256-GCM encrypted (it is returned on every read).
    secret_enc      bytea not null,
    status          text not null default 'enabled' check (status in ('enabled', 'disabled')),
    events          text[] not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (environment_id, id),
    constraint webhook_endpoints_url_key unique (environment_id, endpoint_url)
);
create index webhook_endpoints_environment on webhook_endpoints (environment_id, id);
create trigger webhook_endpoints_updated_at before update on webhook_endpoints
    for each row execute function set_updated_at();

create table webhook_deliveries (
    id               bigint generated always as identity primary key,
    environment_id   text collate "C" not null,
    endpoint_id      text collate "C" not null,
    event_id         text collate "C" not null references events (id) on delete cascade,
    status           text not null default 'pending' check (status in ('pending', 'succeeded', 'failed', 'skipped')),
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_attempt_at  timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    foreign key (environment_id, endpoint_id) references webhook_endpoints (environment_id, id) on delete cascade,
    constraint webhook_deliveries_endpoint_event_key unique (endpoint_id, event_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create trigger webhook_deliveries_updated_at before update on webhook_deliveries
    for each row execute function set_updated_at();

-- One row per HTTP attempt, for debugging (`GET /webhook_endpoints/{id}/deliveries`).
create table webhook_delivery_attempts (
    id            bigint generated always as identity primary key,
    delivery_id   bigint not null references webhook_deliveries (id) on delete cascade,
    attempt       integer not null,
    status_code   integer,
    error         text,
    response_body text,
    duration_ms   integer not null,
    created_at    timestamptz not null default now()
);
create index webhook_delivery_attempts_delivery on webhook_delivery_attempts (delivery_id, id);

create or replace function enqueue_webhook_deliveries() returns trigger as $$
begin
    insert into webhook_deliveries (environment_id, endpoint_id, event_id)
    select e.environment_id, e.id, new.id
    from webhook_endpoints e
    where e.environment_id = new.environment_id
      and e.status = 'enabled'
      and new.event = any (e.events);
    return null;
end;
$$ language plpgsql;

create trigger events_enqueue_webhook_deliveries after insert on events
    for each row execute function enqueue_webhook_deliveries();
