-- Audit-log exports (`POST /audit_logs/exports`): one row per export, a queue the export worker
-- claims with `for update skip locked` and a lease (`claimed_until`), and the CSV file stored as
-- bytea chunks written while it is produced.

create table audit_log_exports (
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    id               text collate "C" not null,
    organization_id  text collate "C" not null,
    state            text not null default 'pending' check (state in ('pending', 'ready', 'error')),
    -- The request: `range_start <= occurred_at <= range_end`, and the optional filters (null: no
    -- filter).
    range_start      timestamptz not null,
    range_end        timestamptz not null,
    actions          text[],
    actor_names      text[],
    actor_ids        text[],
    targets          text[],
    -- Claims so far; an attempt's chunks carry its number, so a crashed attempt's leftovers never
    -- mix with the next one's.
    attempts         integer not null default 0,
    -- A claimed export is being written until then; a later claim takes it over (crashed replica).
    claimed_until    timestamptz,
    -- Why the export failed (`state = 'error'`), or why the last attempt failed.
    error            text,
    -- Where the file is: `postgres` (audit_log_export_chunks) or `s3` (`object_key`).
    storage          text check (storage in ('postgres', 's3')),
    object_key       text,
    -- The file, once ready: the attempt that wrote it, its chunks, bytes and data rows.
    ready_attempt    integer,
    chunk_count      integer,
    size_bytes       bigint,
    row_count        bigint,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    primary key (environment_id, id),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
create trigger audit_log_exports_updated_at before update on audit_log_exports
    for each row execute function set_updated_at();
-- The worker's queue, across environments (like webhook_deliveries_due): pending exports by age.
create index audit_log_exports_pending on audit_log_exports (created_at) where state = 'pending';
-- The download route finds an export by its (globally unique) id alone: the signed URL names it.
create unique index audit_log_exports_id on audit_log_exports (id);

-- The CSV file of an export stored in Postgres: chunk `seq` (0, 1, …) of attempt `attempt`.
create table audit_log_export_chunks (
    environment_id  text collate "C" not null,
    export_id       text collate "C" not null,
    attempt         integer not null,
    seq             integer not null check (seq >= 0),
    data            bytea not null,
    -- Chunks are written once and never updated, so they have no `updated_at`.
    created_at      timestamptz not null default now(),
    primary key (environment_id, export_id, attempt, seq),
    foreign key (environment_id, export_id) references audit_log_exports (environment_id, id) on delete cascade
);
