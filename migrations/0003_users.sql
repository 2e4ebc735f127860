-- Users, sessions and refresh tokens (spec tags `user-management.users`, `user-management.sessions`).

create table users (
    id                   text collate "C" primary key,
    environment_id       text collate "C" not null references environments (id) on delete cascade,
    email                text not null,
    email_verified       boolean not null default false,
    first_name           text,
    last_name            text,
    profile_picture_url  text,
    external_id          text,
    metadata             jsonb not null default '{}',
    locale               text,
    -- PHC string (argon2id for passwords set here; imported hashes keep their scheme).
    password_hash        text,
    last_sign_in_at      timestamptz,
    created_at           timestamptz not null default now(),
    updated_at           timestamptz not null default now(),
    unique (environment_id, id),
    constraint users_email_key unique (environment_id, email),
    constraint users_external_id_key unique (environment_id, external_id)
);
create index users_environment on users (environment_id, id);
create trigger users_updated_at before update on users
    for each row execute function set_updated_at();

create table sessions (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null,
    user_id          text collate "C" not null,
    organization_id  text collate "C",
    auth_method      text not null,
    status           text not null check (status in ('active', 'expired', 'revoked')),
    ip_address       text,
    user_agent       text,
    expires_at       timestamptz not null,
    ended_at         timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index sessions_user on sessions (environment_id, user_id, id);
create trigger sessions_updated_at before update on sessions
    for each row execute function set_updated_at();

-- Opaque refresh tokens, stored as SHA-256 hex digests and rotated on every use.
create table refresh_tokens (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    session_id      text collate "C" not null,
    token_hash      text not null unique,
    created_at      timestamptz not null default now(),
    used_at         timestamptz,
    foreign key (environment_id, session_id) references sessions (environment_id, id) on delete cascade
);
create index refresh_tokens_session on refresh_tokens (environment_id, session_id);
