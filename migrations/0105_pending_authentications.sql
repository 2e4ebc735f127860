-- Sign-ins waiting for a further step (the 403 `email_verification_required`, `mfa_challenge`
-- and `organization_selection_required` responses of `POST /user_management/authenticate`).
-- The `pending_authentication_token` is stored as a SHA-256 digest and works once.

create table pending_authentications (
    id                     text collate "C" primary key,
    environment_id         text collate "C" not null,
    user_id                text collate "C" not null,
    token_hash             text not null unique,
    stage                  text not null check (stage in ('email_verification', 'mfa_challenge', 'organization_selection')),
    -- Session vocabulary (`password`, `magic_code`, …) of the first factor.
    auth_method            text not null,
    mfa_verified           boolean not null default false,
    organization_id        text collate "C",
    email_verification_id  text collate "C",
    ip_address             text,
    user_agent             text,
    expires_at             timestamptz not null,
    consumed_at            timestamptz,
    created_at             timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
