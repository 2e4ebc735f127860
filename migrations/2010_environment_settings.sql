-- Per-environment settings (GET/PATCH /environment, `keystead environments update`).
-- One row per environment, created on the first explicit setting. Every column is nullable:
-- null means "not set explicitly", and the serving process's default applies (its
-- KEYSTEAD_* flag, or a default by environment type). A later area adds its settings with
-- `alter table environment_settings add column …` in its own migration block.
create table environment_settings (
    environment_id                  text collate "C" primary key references environments (id) on delete cascade,
    email_verification_required     boolean,
    mfa_enrollment                  text check (mfa_enrollment in ('optional', 'required')),
    sign_in_password                boolean,
    sign_in_magic_auth              boolean,
    sign_in_sso                     boolean,
    sign_in_oauth_providers         text[],
    access_token_ttl_seconds        integer check (access_token_ttl_seconds between 60 and 86400),
    session_ttl_seconds             integer check (session_ttl_seconds between 60 and 31536000),
    app_homepage_url                text,
    allow_http_webhook_endpoints    boolean,
    allow_http_redirect_uris        boolean,
    created_at                      timestamptz not null default now(),
    updated_at                      timestamptz not null default now()
);
create trigger environment_settings_updated_at before update on environment_settings
    for each row execute function set_updated_at();
