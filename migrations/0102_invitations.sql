-- Invitations (spec tag `user-management.invitations`, schema `UserlandUserInvite`). The token is
-- stored as a SHA-256 digest (lookups) and sealed with the vault (the API returns it on reads).

create table invitations (
    id                text collate "C" primary key,
    environment_id    text collate "C" not null references environments (id) on delete cascade,
    email             text not null,
    state             text not null check (state in ('pending', 'accepted', 'expired', 'revoked')),
    accepted_at       timestamptz,
    revoked_at        timestamptz,
    expires_at        timestamptz not null,
    organization_id   text collate "C",
    inviter_user_id   text collate "C",
    accepted_user_id  text collate "C",
    role_slug         text,
    locale            text,
    token_hash        text not null unique,
    token_sealed      bytea not null,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    unique (environment_id, id),
    foreign key (environment_id, organization_id) references organizations (environment_id, id) on delete cascade
);
create index invitations_environment on invitations (environment_id, id);
create index invitations_email on invitations (environment_id, email, id);
create index invitations_organization on invitations (environment_id, organization_id, id);
-- One pending invitation per email and organization (or per email without one).
create unique index invitations_pending_key on invitations (environment_id, email, coalesce(organization_id, ''))
    where state = 'pending';
create trigger invitations_updated_at before update on invitations
    for each row execute function set_updated_at();
