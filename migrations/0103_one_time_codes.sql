-- One-time codes and tokens sent by email: Magic Auth codes, email verification codes, password
-- reset tokens and email change codes. Each is stored as a salted SHA-256 digest; those the API
-- returns on reads (spec `MagicAuth.code`, `EmailVerification.code`,
-- `PasswordReset.password_reset_token`) are also sealed with the vault.

-- `user_id` is the user's id, or the id the user will get when the code signs them up.
create table magic_auths (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    user_id         text collate "C" not null,
    email           text not null,
    code_hash       text not null,
    code_sealed     bytea not null,
    invitation_id   text collate "C",
    attempts        integer not null default 0,
    expires_at      timestamptz not null,
    consumed_at     timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (environment_id, id)
);
create index magic_auths_email on magic_auths (environment_id, email, id);
create trigger magic_auths_updated_at before update on magic_auths
    for each row execute function set_updated_at();

create table email_verifications (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    user_id         text collate "C" not null,
    email           text not null,
    code_hash       text not null,
    code_sealed     bytea not null,
    attempts        integer not null default 0,
    expires_at      timestamptz not null,
    consumed_at     timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index email_verifications_user on email_verifications (environment_id, user_id, id);
create trigger email_verifications_updated_at before update on email_verifications
    for each row execute function set_updated_at();

create table password_resets (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    user_id         text collate "C" not null,
    email           text not null,
    token_hash      text not null unique,
    token_sealed    bytea not null,
    expires_at      timestamptz not null,
    consumed_at     timestamptz,
    created_at      timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index password_resets_user on password_resets (environment_id, user_id, id);

create table email_changes (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    user_id         text collate "C" not null,
    new_email       text not null,
    code_hash       text not null,
    attempts        integer not null default 0,
    expires_at      timestamptz not null,
    consumed_at     timestamptz,
    created_at      timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index email_changes_user on email_changes (environment_id, user_id, id);
