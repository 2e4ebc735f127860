-- Per-environment AuthKit settings: the JWT template merged into access tokens, the redirect
-- URIs redirects may go to, and the browser origins allowed to call the public endpoints.

create table jwt_templates (
    environment_id  text collate "C" primary key references environments (id) on delete cascade,
    content         text not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now()
);
create trigger jwt_templates_updated_at before update on jwt_templates
    for each row execute function set_updated_at();

create table redirect_uris (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    uri             text not null,
    is_default      boolean not null default false,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint redirect_uris_uri_key unique (environment_id, uri)
);
create index redirect_uris_environment on redirect_uris (environment_id, id);
create trigger redirect_uris_updated_at before update on redirect_uris
    for each row execute function set_updated_at();

create table cors_origins (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null references environments (id) on delete cascade,
    origin          text not null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint cors_origins_origin_key unique (environment_id, origin)
);
create index cors_origins_environment on cors_origins (environment_id, id);
create index cors_origins_origin on cors_origins (origin);
create trigger cors_origins_updated_at before update on cors_origins
    for each row execute function set_updated_at();
