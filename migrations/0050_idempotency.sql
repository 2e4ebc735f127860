-- Idempotency-Key records: the first request with a key claims it; replays within 24 h return
-- the stored response. Purged by the janitor after 24 h.

create table idempotency_keys (
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    key             text not null,
    request_hash    text not null,
    state           text not null check (state in ('in_progress', 'completed')),
    status          smallint,
    headers         jsonb,
    body            bytea,
    created_at      timestamptz not null default now(),
    locked_at       timestamptz not null default now(),
    primary key (environment_id, key)
);
create index idempotency_keys_created on idempotency_keys (created_at);
