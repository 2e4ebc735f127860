-- The two seeded roles were minted in the same millisecond, so their ULIDs (and so `order by id`)
-- put `member` and `admin` in a random order. Seed them a microsecond apart and list roles by
-- `created_at, id`, so the catalogue reads `member`, `admin`, then custom roles oldest first.

create or replace function seed_environment_roles() returns trigger language plpgsql as $$
begin
    insert into roles (id, environment_id, slug, name, description, created_at, updated_at) values
        ('role_' || keystead_ulid(), new.id, 'member', 'Member', 'The default role of new memberships.',
         now(), now()),
        ('role_' || keystead_ulid(), new.id, 'admin', 'Admin', 'Administers the organization.',
         now() + interval '1 microsecond', now() + interval '1 microsecond');
    return new;
end;
$$;

update roles a
   set created_at = m.created_at + interval '1 microsecond'
  from roles m
 where a.slug = 'admin' and m.slug = 'member'
   and a.environment_id = m.environment_id
   and a.created_at <= m.created_at;

create index roles_environment_created on roles (environment_id, created_at, id);
