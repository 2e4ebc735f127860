-- Multi-factor authentication (spec tags `multi-factor-auth`, `multi-factor-auth.challenges`,
-- `user-management.multi-factor-authentication`): TOTP factors, their secrets sealed with the
-- vault, and challenges. `last_used_step` makes every TOTP code usable once (RFC 6238 §5.2).

create table authentication_factors (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    -- Null for factors enrolled through `/auth/factors/enroll` without a user.
    user_id         text collate "C",
    type            text not null check (type in ('totp')),
    totp_issuer     text not null,
    totp_user       text not null,
    secret_sealed   bytea not null,
    last_used_step  bigint,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index authentication_factors_user on authentication_factors (environment_id, user_id, id);
create trigger authentication_factors_updated_at before update on authentication_factors
    for each row execute function set_updated_at();

create table authentication_challenges (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    factor_id       text collate "C" not null,
    attempts        integer not null default 0,
    expires_at      timestamptz not null,
    verified_at     timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, factor_id) references authentication_factors (environment_id, id) on delete cascade
);
create index authentication_challenges_factor on authentication_challenges (environment_id, factor_id, id);
create trigger authentication_challenges_updated_at before update on authentication_challenges
    for each row execute function set_updated_at();
