-- Identities a user signed in with at an upstream OAuth provider (`GET
-- /user_management/users/{id}/identities`, items `{idp_id, type: "OAuth", provider}`).

create table user_identities (
    id              text collate "C" primary key,
    environment_id  text collate "C" not null,
    user_id         text collate "C" not null,
    provider        text not null,
    idp_id          text not null,
    created_at      timestamptz not null default now(),
    constraint user_identities_provider_key unique (environment_id, provider, idp_id),
    foreign key (environment_id, user_id) references users (environment_id, id) on delete cascade
);
create index user_identities_user on user_identities (environment_id, user_id, id);
