-- The IP indexes hold only rows with an address, so that before the table has statistics (a
-- new installation: autovacuum analyzes it only after a while) the per-email counters cannot
-- pick an IP index and scan the environment's attempts: each counter's query implies the
-- predicate of its own index only.
drop index radar_attempts_ip_failed;
create index radar_attempts_ip_failed on radar_attempts (environment_id, ip_address, email, created_at)
    where action = 'sign-in' and not succeeded and ip_address is not null;
drop index radar_attempts_ip_sign_up;
create index radar_attempts_ip_sign_up on radar_attempts (environment_id, ip_address, created_at)
    where action = 'sign-up' and ip_address is not null;
-- Statistics soon after the first attempts, and as the table grows.
alter table radar_attempts set (autovacuum_analyze_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02);
