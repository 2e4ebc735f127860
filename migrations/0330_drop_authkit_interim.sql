-- The hosted login pages now use the User Management stores (magic_auths,
-- email_verifications, password_resets, organization_memberships); the interim table of
-- 0170_authkit_interim.sql is no longer read or written. Codes still pending in it are dropped
-- with it: they lived minutes, and a new one is one click away.
drop table if exists authkit_one_time_codes;
