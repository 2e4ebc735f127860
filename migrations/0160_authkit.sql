-- Hosted login (AuthKit): the browser flows started by `GET /user_management/authorize`, and
-- the authorization codes they end with (exchanged once, within 10 minutes, by
-- `grant_type=authorization_code`). Flow cookies and codes are stored as SHA-256 digests.

create table authkit_flows (
    id                        text collate "C" primary key,
    environment_id            text collate "C" not null references environments (id) on delete cascade,
    -- SHA-256 hex of the random value carried by the browser's encrypted flow cookie.
    token_hash                text not null unique,
    -- The authorization request, validated when the flow started.
    redirect_uri              text not null,
    state                     text,
    code_challenge            text,
    organization_id           text collate "C",
    login_hint                text,
    -- Progress: the user once a first factor succeeded, then the steps passed since.
    user_id                   text collate "C",
    auth_method               text,
    -- The address a magic code was sent to (the code form asks only for the code).
    pending_email             text,
    mfa_passed                boolean not null default false,
    selected_organization_id  text collate "C",
    failed_attempts           integer not null default 0,
    expires_at                timestamptz not null,
    created_at                timestamptz not null default now(),
    updated_at                timestamptz not null default now(),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index authkit_flows_expiry on authkit_flows (environment_id, expires_at);
create trigger authkit_flows_updated_at before update on authkit_flows
    for each row execute function set_updated_at();

create table authorization_codes (
    id               text collate "C" primary key,
    environment_id   text collate "C" not null references environments (id) on delete cascade,
    code_hash        text not null unique,
    user_id          text collate "C" not null,
    organization_id  text collate "C",
    -- Session vocabulary (`password`, `magic_code`, …) for the session the exchange creates.
    auth_method      text not null,
    redirect_uri     text not null,
    -- PKCE S256 challenge (base64url of SHA-256 of the verifier), when the flow sent one.
    code_challenge   text,
    ip_address       text,
    user_agent       text,
    expires_at       timestamptz not null,
    used_at          timestamptz,
    -- The session the exchange created; revoked if the code is presented again.
    session_id       text collate "C",
    created_at       timestamptz not null default now(),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index authorization_codes_expiry on authorization_codes (environment_id, expires_at);
