-- Email delivery outbox: `email::enqueue` inserts a row in the caller's transaction, so an email
-- exists exactly when the change that asked for it was committed. The worker
-- (`workers::email`) claims due rows with `for update skip locked` and a lease, sends them over
-- SMTP outside any transaction, then deletes the row (sent) or records the failure and retries
-- with backoff. Rows that can never be sent (permanent SMTP failure, attempts exhausted, or no
-- SMTP configured) keep their metadata for a while but lose their payload, which holds one-time
-- codes and links.

create table email_outbox (
    id               bigint generated always as identity primary key,
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    -- `magic_auth`, `email_verification`, `password_reset`, `invitation`, `email_change`.
    kind             text not null,
    recipient        text not null,
    -- The `email::Email` as JSON (codes, links); set to null once the row is final.
    payload          jsonb,
    status           text not null default 'pending'
                     check (status in ('pending', 'failed', 'skipped')),
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    last_attempt_at  timestamptz,
    last_error       text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now()
);
create index email_outbox_due on email_outbox (next_attempt_at) where status = 'pending';
create index email_outbox_final on email_outbox (updated_at) where status <> 'pending';
create index email_outbox_environment on email_outbox (environment_id, id);
create trigger email_outbox_updated_at before update on email_outbox
    for each row execute function set_updated_at();
