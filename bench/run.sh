#!/usr/bin/env bash
# Keystead benchmark: builds release, starts `keystead serve` on the embedded default Postgres,
# seeds data, drives load with wrk on loopback, and prints Keystead's numbers next to the
# machine's ceilings (pgbench -S and -N on the same Postgres, argon2id hash rate at our
# parameters) and next to a bare axum + sqlx server on the same database
# (examples/bench_reference.rs), all in the same run with the same wrk settings.
#
#   bench/run.sh                # full run (about 6 minutes on 2 cores, plus a one-time oha install)
#   DURATION=5 bench/run.sh     # shorter phases
#
# Writes a Markdown summary to bench/results/latest.md. Load goes to 127.0.0.1 only.
set -euo pipefail
OUT=bench/results/latest.md
# oha drives a fixed request rate (wrk cannot), for p99 at half of peak throughput.
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null 2>&1; then
  echo "installing oha (cargo install, a few minutes once)…"
  cargo install oha --locked --quiet
fi
BUILD_EXTRA="--example argon2_rate --example bench_reference"
source "$(dirname "$0")/lib.sh"
bench_start

seed_rows() { # seed_rows N: organizations and events up to N rows for the environment
  "${PSQL[@]}" keystead <<SQL
insert into organizations (id, environment_id, name)
  select 'org_0SEED' || lpad(g::text, 10, '0'), '$ENV_ID', 'Seed ' || g
  from generate_series((select count(*) from organizations where id like 'org_0SEED%') + 1, $1) g;
insert into events (id, environment_id, event, data)
  select 'event_0SEED' || lpad(g::text, 10, '0'), '$ENV_ID', 'organization.created', '{"object":"organization"}'
  from generate_series((select count(*) from events where id like 'event_0SEED%') + 1, $1) g;
analyze organizations; analyze events;
SQL
}

echo "load phases (${DURATION}s each, $CONNS connections):"
run_wrk get_org "/organizations/$ORG"
run_wrk list_orgs "/organizations?limit=10"
run_wrk create_org "/organizations" bench/wrk-post-org.lua
run_wrk list_events "/events?limit=100"
CONNS_SAVED=$CONNS; CONNS=8
run_wrk authenticate "/user_management/authenticate" bench/wrk-authenticate.lua
CONNS=$CONNS_SAVED

echo "GET /organizations/{id} at half of its peak rate (oha, fixed rate):"
HALF=$(python3 -c "print(int(float(${RPS[get_org]}) / 2))")
oha -z "${DURATION}s" -c "$CONNS" -q "$HALF" --latency-correction --no-tui --output-format json \
  -H "Authorization: Bearer $KEY" "$BASE/organizations/$ORG" >"$WORK/half.json"
read -r HALF_RPS HALF_P50 HALF_P99 < <(python3 - "$WORK/half.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["latencyPercentiles"]
print(f'{r["summary"]["requestsPerSec"]:.1f} {p["p50"] * 1000:.2f} {p["p99"] * 1000:.2f}')
PY
)
RPS[get_org_half_peak]=$HALF_RPS; P50[get_org_half_peak]=$HALF_P50; P99[get_org_half_peak]=$HALF_P99
printf '  %-28s rate=%s/s p50_ms=%s p99_ms=%s\n' get_org_half_peak "$HALF_RPS" "$HALF_P50" "$HALF_P99"

echo "login flood with reads alongside:"
( CONNS=8; run_wrk flood_auth "/user_management/authenticate" bench/wrk-authenticate.lua >"$WORK/flood.txt" ) &
FLOOD=$!
sleep 1
DURATION_SAVED=$DURATION; DURATION=$((DURATION - 2 > 3 ? DURATION - 2 : 3)); CONNS=4
run_wrk get_org_during_flood "/organizations/$ORG"
DURATION=$DURATION_SAVED; CONNS=$CONNS_SAVED
wait $FLOOD; cat "$WORK/flood.txt"

echo "pagination at 10k and 1M rows:"
seed_rows 10000
MID10K="org_0SEED$(printf '%010d' 5000)"; EMID10K="event_0SEED$(printf '%010d' 5000)"
run_wrk page_orgs_10k "/organizations?limit=10&after=$MID10K"
run_wrk page_events_10k "/events?limit=100&after=$EMID10K"
echo "Keystead vs the bare axum + sqlx reference (same database, same pool size, wrk -t1, ids cycling over 10 k rows):"
REF_PORT=$((PORT + 2))
DATABASE_URL="postgres://postgres@localhost/keystead?host=$SOCK" \
  "${CARGO_TARGET_DIR:-target}/release/examples/bench_reference" "$REF_PORT" >"$WORK/reference.log" 2>&1 &
REF_PID=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$REF_PORT/events" && break; sleep 0.1; done
THREADS_SAVED=$THREADS; THREADS=1
for round in 1 2; do
  BENCH_PREFIX=/org/ WRK_BASE="http://127.0.0.1:$REF_PORT" run_wrk "ref_get_$round" "/org/" bench/wrk-cycle-ids.lua
  BENCH_PREFIX=/organizations/ run_wrk "get_cycled_$round" "/organizations/" bench/wrk-cycle-ids.lua
  WRK_BASE="http://127.0.0.1:$REF_PORT" run_wrk "ref_events_$round" "/events"
  run_wrk "events_100_$round" "/events?limit=100"
done
THREADS=$THREADS_SAVED
kill "$REF_PID" 2>/dev/null || true
best() { python3 -c "print(max(float(a) for a in '$*'.split()))"; }
RPS[ref_get]=$(best "${RPS[ref_get_1]}" "${RPS[ref_get_2]}")
RPS[get_cycled]=$(best "${RPS[get_cycled_1]}" "${RPS[get_cycled_2]}")
RPS[ref_events]=$(best "${RPS[ref_events_1]}" "${RPS[ref_events_2]}")
RPS[events_100]=$(best "${RPS[events_100_1]}" "${RPS[events_100_2]}")
PGBENCH_N=$(pgbench_tps -N)
echo "  pgbench -N tps: $PGBENCH_N"

seed_rows 1000000
MID1M="org_0SEED$(printf '%010d' 500000)"; EMID1M="event_0SEED$(printf '%010d' 500000)"
run_wrk page_orgs_1m "/organizations?limit=10&after=$MID1M"
run_wrk page_events_1m "/events?limit=100&after=$EMID1M"
PEAK_RSS=$(rss_kb VmHWM)

echo "ceilings:"
PGBENCH_TPS=$(pgbench_tps -S)
echo "  pgbench -S tps: $PGBENCH_TPS"
ARGON2=$("${CARGO_TARGET_DIR:-target}/release/examples/argon2_rate" "$THREADS" "$DURATION")
echo "  argon2id hashes/s: $ARGON2"

{
  echo "# Keystead benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; wrk -t$THREADS -c$CONNS -d${DURATION}s (logins: 8 connections); load, server and Postgres share the cores."
  echo
  phase_table get_org get_org_half_peak list_orgs create_org list_events authenticate flood_auth \
    get_org_during_flood page_orgs_10k page_orgs_1m page_events_10k page_events_1m \
    ref_get_1 get_cycled_1 ref_events_1 events_100_1 ref_get_2 get_cycled_2 ref_events_2 events_100_2
  echo
  echo "| ceiling / ratio | value |"
  echo "|---|---:|"
  echo "| pgbench -S tps ($CONNS connections) | $PGBENCH_TPS |"
  echo "| GET /organizations/{id} ÷ pgbench -S | $(ratio "${RPS[get_org]}" "$PGBENCH_TPS") |"
  echo "| GET /organizations/{id} (10 k ids) ÷ bare axum + sqlx read (best of 2 each) | $(ratio "${RPS[get_cycled]}" "${RPS[ref_get]}") (target ≥ 0.85) |"
  echo "| GET /events?limit=100 ÷ bare read of 100 rows (best of 2 each) | $(ratio "${RPS[events_100]}" "${RPS[ref_events]}") (target ≥ 0.5) |"
  echo "| pgbench -N tps ($CONNS connections) | $PGBENCH_N |"
  echo "| POST /organizations ÷ pgbench -N | $(ratio "${RPS[create_org]}" "$PGBENCH_N") (target ≥ 0.75) |"
  echo "| argon2id hashes/s ($THREADS threads) | $ARGON2 |"
  echo "| password logins ÷ argon2 rate | $(ratio "${RPS[authenticate]}" "$ARGON2") |"
  echo "| orgs page at 1M ÷ 10k (throughput) | $(ratio "${RPS[page_orgs_1m]}" "${RPS[page_orgs_10k]}") |"
  echo "| events page at 1M ÷ 10k (throughput) | $(ratio "${RPS[page_events_1m]}" "${RPS[page_events_10k]}") |"
  echo "| RSS idle / peak (MB) | $((IDLE_RSS / 1024)) / $((PEAK_RSS / 1024)) |"
} | tee "$OUT"
