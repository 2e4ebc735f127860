-- INTERIM tables of the hosted login pages, to be replaced when the User Management API lands
-- (magic auth, email verification, password reset and authentication factors have their own
-- tables there). Kept apart, under `authkit_` names, so the two schemas never collide; the
-- pages reach them only through `store::authkit_interim`.

-- One-time secrets the pages send by email: 6-digit codes (magic_auth, email_verification) and
-- password-reset tokens, stored as SHA-256 digests.
create table authkit_one_time_codes (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    kind            text not null check (kind in ('magic_auth', 'email_verification', 'password_reset')),
    user_id         text collate "C",
    email           text not null,
    code_hash       text not null,
    attempts        integer not null default 0,
    expires_at      timestamptz not null,
    used_at         timestamptz,
    created_at      timestamptz not null default now(),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index authkit_one_time_codes_lookup on authkit_one_time_codes (environment_id, kind, email, id);
create index authkit_one_time_codes_hash on authkit_one_time_codes (environment_id, kind, code_hash);
