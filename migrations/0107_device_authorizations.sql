-- OAuth 2.0 Device Authorization Grant (RFC 8628): `POST /user_management/authorize/device` and
-- the `urn:ietf:params:oauth:grant-type:device_code` grant. The device code is stored as a
-- SHA-256 digest; the short user code is what a person types on the verification page.

create table device_authorizations (
    id                text collate "C" primary key,
    environment_id    text collate "C" not null references environments (id) on delete cascade,
    device_code_hash  text not null unique,
    user_code         text not null,
    state             text not null check (state in ('pending', 'approved', 'denied', 'consumed')),
    user_id           text collate "C",
    organization_id   text collate "C",
    auth_method       text,
    interval_secs     integer not null,
    last_polled_at    timestamptz,
    expires_at        timestamptz not null,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    unique (environment_id, id)
);
-- User codes are unique among the authorizations still waiting for a person.
create unique index device_authorizations_user_code on device_authorizations (user_code)
    where state = 'pending';
create trigger device_authorizations_updated_at before update on device_authorizations
    for each row execute function set_updated_at();
