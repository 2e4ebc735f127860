-- Radar attempts a Keystead sign-in takes over (`radar_auth_attempt_id` on
-- `POST /user_management/authenticate`): an attempt is taken over once (`linked`), and the
-- reason of a verdict other than `allow` is kept, so the sign-in answers with it.
alter table radar_attempts add column linked boolean not null default false;
alter table radar_attempts add column reason text;
