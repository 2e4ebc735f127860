-- Radar (spec tag `radar`): assessed sign-in and sign-up attempts, the allow and block lists,
-- a bounded per-email sign-in profile, and the per-environment Radar settings.

-- Every assessed attempt, kept for the longest counting window (retention: two days, see
-- store::radar_attempts::prune). The windowed counters read these through the indexes below.
create table radar_attempts (
    environment_id      text collate "C" not null references environments (id) on delete cascade,
    id                  text collate "C" not null,
    email               text not null,
    email_domain        text not null,
    -- The email without `+tag` (and, for gmail.com, without dots): repeat sign-ups.
    email_key           text not null,
    ip_address          inet,
    user_agent          text,
    device              text,
    action              text not null check (action in ('sign-in', 'sign-up')),
    auth_method         text not null,
    verdict             text not null check (verdict in ('allow', 'block', 'challenge')),
    control             text,
    blocklist_type      text,
    country             text,
    latitude            double precision,
    longitude           double precision,
    succeeded           boolean not null default false,
    challenge_succeeded boolean not null default false,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    primary key (environment_id, id)
);
create index radar_attempts_email on radar_attempts (environment_id, email, created_at);
create index radar_attempts_ip on radar_attempts (environment_id, ip_address, created_at);
create index radar_attempts_domain on radar_attempts (environment_id, email_domain, created_at)
    where action = 'sign-up';
create index radar_attempts_email_key on radar_attempts (environment_id, email_key, created_at)
    where action = 'sign-up';
create index radar_attempts_device on radar_attempts (environment_id, device, created_at)
    where action = 'sign-up' and device is not null;
create index radar_attempts_created on radar_attempts (created_at);
create trigger radar_attempts_updated_at before update on radar_attempts
    for each row execute function set_updated_at();

-- What a successful sign-in leaves behind, one row per email: the last success (stale
-- accounts, impossible travel) and up to 20 recognised devices.
create table radar_profiles (
    environment_id      text collate "C" not null references environments (id) on delete cascade,
    email               text not null,
    last_success_at     timestamptz not null,
    last_latitude       double precision,
    last_longitude      double precision,
    devices             text[] not null default '{}',
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    primary key (environment_id, email)
);
create trigger radar_profiles_updated_at before update on radar_profiles
    for each row execute function set_updated_at();

-- Allow and block lists. `entry` is the normalised value; `network` is set for ip_address
-- entries (an IP is a /32 or /128).
create table radar_list_entries (
    environment_id      text collate "C" not null references environments (id) on delete cascade,
    list_type           text not null check (list_type in ('ip_address', 'domain', 'email', 'device',
                            'user_agent', 'device_fingerprint', 'country')),
    action              text not null check (action in ('block', 'allow')),
    entry               text not null,
    network             cidr,
    created_at          timestamptz not null default now(),
    primary key (environment_id, list_type, action, entry)
);
create index radar_list_entries_network on radar_list_entries using gist (network inet_ops)
    where network is not null;

-- The environment's Radar settings (PATCH /environment `settings.radar`, read with the other
-- environment settings); null: the default. A table of its own, keyed by the environment,
-- because `environment_settings` (2010) is created after this block.
create table radar_settings (
    environment_id                      text collate "C" primary key references environments (id) on delete cascade,
    radar_enabled                       boolean,
    radar_brute_force_threshold         integer check (radar_brute_force_threshold between 1 and 10000),
    radar_credential_stuffing_threshold integer check (radar_credential_stuffing_threshold between 1 and 10000),
    radar_window_seconds                integer check (radar_window_seconds between 60 and 86400),
    radar_ip_sign_up_threshold          integer check (radar_ip_sign_up_threshold between 1 and 100000),
    radar_domain_sign_up_threshold      integer check (radar_domain_sign_up_threshold between 1 and 100000),
    radar_repeat_sign_up_threshold      integer check (radar_repeat_sign_up_threshold between 1 and 10000),
    radar_sign_up_window_seconds        integer check (radar_sign_up_window_seconds between 60 and 86400),
    radar_stale_account_days            integer check (radar_stale_account_days between 1 and 3650),
    radar_impossible_travel_kmh         integer check (radar_impossible_travel_kmh between 100 and 100000),
    created_at                          timestamptz not null default now(),
    updated_at                          timestamptz not null default now()
);
create trigger radar_settings_updated_at before update on radar_settings
    for each row execute function set_updated_at();

-- A hosted-login flow whose first factor Radar challenged must pass the email-code step.
alter table authkit_flows add column radar_challenge boolean not null default false;
