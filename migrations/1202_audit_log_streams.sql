-- Audit-log streams (issue 12): at most one stream per organization, and the queue of events it
-- still has to deliver.
--
-- Fan-out happens in the database, like webhooks: a trigger on `audit_log_events` inserts one
-- queue row when (and only when) the event's organization has a stream, in the ingesting
-- transaction. A committed event is therefore always queued and a rolled-back one never is, and
-- no cursor over `audit_log_events` is needed (a cursor would skip events whose transactions
-- commit out of order). For an organization without a stream the trigger costs one primary-key
-- probe of `audit_log_streams`. Workers lease one stream at a time (`for update skip locked`,
-- `next_attempt_at` pushed past the lease), send its oldest queued events as one batch, and
-- delete the queue rows they delivered.

create table audit_log_streams (
    environment_id   text collate "C" not null,
    id               text collate "C" not null,
    organization_id  text collate "C" not null,
    type             text not null check (type in ('GenericHttps', 'Datadog', 'Splunk', 'S3')),
    -- The sink's settings without its secret (URL, site, bucket, region, key id, prefix, …).
    config           jsonb not null,
    -- The sink's secret (HTTPS signing secret, Datadog API key, Splunk HEC token, S3 secret
    -- access key), AES-256-GCM encrypted with the server's key; never returned after creation.
    secret_enc       bytea not null,
    state            text not null default 'active' check (state in ('active', 'error', 'invalid')),
    last_synced_at   timestamptz,
    -- The last failure (status and a short reason), cleared by a success.
    last_error       text,
    -- Consecutive failed batches (drives the back-off).
    failures         integer not null default 0,
    -- When a worker may next take the stream (the lease while a batch is in flight).
    next_attempt_at  timestamptz not null default now(),
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (environment_id, id),
    constraint audit_log_streams_organization_key unique (environment_id, organization_id),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
create trigger audit_log_streams_updated_at before update on audit_log_streams
    for each row execute function set_updated_at();

-- Events a stream has yet to deliver, oldest first. Rows are deleted once delivered; an event
-- purged by retention before delivery is dropped from the queue when its turn comes.
create table audit_log_stream_queue (
    environment_id  text collate "C" not null,
    stream_id       text collate "C" not null,
    id              bigint generated always as identity,
    event_id        text collate "C" not null,
    created_at      timestamptz not null default now(),
    primary key (environment_id, stream_id, id),
    foreign key (environment_id, stream_id) references audit_log_streams (environment_id, id) on delete cascade
);

create or replace function enqueue_audit_log_stream_event() returns trigger as $$
begin
    insert into audit_log_stream_queue (environment_id, stream_id, event_id)
    select s.environment_id, s.id, new.id
    from audit_log_streams s
    where s.environment_id = new.environment_id
      and s.organization_id = new.organization_id;
    return null;
end;
$$ language plpgsql;

create trigger audit_log_events_enqueue_stream after insert on audit_log_events
    for each row execute function enqueue_audit_log_stream_event();

-- The workers' scan for streams that are due (across environments, like `webhook_deliveries_due`).
create index audit_log_streams_due on audit_log_streams (next_attempt_at) where state <> 'invalid';
