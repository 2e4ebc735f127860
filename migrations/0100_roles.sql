-- Environment roles (schema `Role`, `type = EnvironmentRole`): the catalogue that membership and
-- invitation role slugs are checked against. Every environment starts with `member` (the default
-- role) and `admin`; custom slugs are added with `POST /authorization/roles`.

-- A ULID (26 Crockford base-32 characters, time-ordered) for ids made inside the database.
create or replace function keystead_ulid() returns text language plpgsql volatile as $$
declare
    alphabet constant text := '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    ms bit(64) := (floor(extract(epoch from clock_timestamp()) * 1000)::bigint)::bit(64);
    rnd bit(80) := ('x' || substr(md5(random()::text || clock_timestamp()::text), 1, 20))::bit(80);
    bits bit(130) := b'00' || substring(ms from 17 for 48) || rnd;
    result text := '';
begin
    for i in 0..25 loop
        result := result || substr(alphabet, substring(bits from i * 5 + 1 for 5)::int + 1, 1);
    end loop;
    return result;
end;
$$;

create table roles (
    id                  text collate "C" primary key,
    environment_id      text collate "C" not null references environments (id) on delete cascade,
    slug                text not null,
    name                text not null,
    description         text,
    resource_type_slug  text not null default 'organization',
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint roles_slug_key unique (environment_id, slug)
);
create index roles_environment on roles (environment_id, id);
create trigger roles_updated_at before update on roles
    for each row execute function set_updated_at();

create or replace function seed_environment_roles() returns trigger language plpgsql as $$
begin
    insert into roles (id, environment_id, slug, name, description) values
        ('role_' || keystead_ulid(), new.id, 'member', 'Member', 'The default role of new memberships.'),
        ('role_' || keystead_ulid(), new.id, 'admin', 'Admin', 'Administers the organization.');
    return new;
end;
$$;
create trigger environments_seed_roles after insert on environments
    for each row execute function seed_environment_roles();

insert into roles (id, environment_id, slug, name, description)
select 'role_' || keystead_ulid(), id, 'member', 'Member', 'The default role of new memberships.' from environments;
insert into roles (id, environment_id, slug, name, description)
select 'role_' || keystead_ulid(), id, 'admin', 'Admin', 'Administers the organization.' from environments;
