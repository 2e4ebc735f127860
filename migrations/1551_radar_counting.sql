-- Radar's counting, bounded (store::radar_attempts::assess): each counter is one scan of an
-- index that holds only the rows it counts (failed sign-ins; sign-ups), stopped at the
-- control's threshold, so an assessment's cost does not grow with the attempts in the window.
-- The remembered device signature is kept on the attempt, so marking an attempt successful and
-- remembering it in the profile is one statement.

alter table radar_attempts add column signature text;

drop index radar_attempts_email;
drop index radar_attempts_ip;
-- Failed sign-ins per email (brute force; the latest one for a Keystead sign-in's success).
create index radar_attempts_email_failed on radar_attempts (environment_id, email, created_at)
    where action = 'sign-in' and not succeeded;
-- Distinct emails failing per IP (credential stuffing), read by a skip scan over the emails.
create index radar_attempts_ip_failed on radar_attempts (environment_id, ip_address, email, created_at)
    where action = 'sign-in' and not succeeded;
-- Sign-ups per IP.
create index radar_attempts_ip_sign_up on radar_attempts (environment_id, ip_address, created_at)
    where action = 'sign-up';

-- No foreign key to environments: its check takes a key-share lock on the environment's row
-- for each attempt (a write to that row, and a MultiXact when attempts are concurrent). Attempts are pruned after two
-- days, so those of a deleted environment go then.
alter table radar_attempts drop constraint radar_attempts_environment_id_fkey;
