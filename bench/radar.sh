#!/usr/bin/env bash
# Radar benchmark: builds release, starts `keystead serve` on the embedded Postgres, and drives
# with wrk on loopback, in one run:
#   - `GET /organizations/{id}` and `POST /radar/attempts` at 32 connections (the attempt rate as
#     a ratio of the point read: target >= 0.6);
#   - password logins (8 connections) with Radar off, then on for the environment (target: on
#     within 0.95x of off).
#
#   bench/radar.sh              # DURATION=10 by default; results in bench/results/radar.md
#   (honours CARGO_TARGET_DIR for the release build)
set -euo pipefail
PORT=${PORT:-18282}
source "$(dirname "$0")/lib.sh"
OUT=bench/results/radar.md
bench_start

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load phases (${DURATION}s each):"
run_wrk get_org "/organizations/$ORG"
run_wrk radar_attempt "/radar/attempts" bench/wrk-radar-attempt.lua
CONNS_SAVED=$CONNS; CONNS=8
run_wrk login_radar_off "/user_management/authenticate" bench/wrk-authenticate.lua
api -X PATCH "$BASE/environment" -d '{"settings":{"radar":{"enabled":true}}}' >/dev/null
run_wrk login_radar_on "/user_management/authenticate" bench/wrk-authenticate.lua
CONNS=$CONNS_SAVED

{
  echo "# Keystead Radar benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "$(machine_line) Logins: 8 connections; load average at the start $LOAD_START."
  echo
  phase_table get_org radar_attempt login_radar_off login_radar_on
  echo
  echo "| ratio | value | target |"
  echo "|---|---:|---:|"
  echo "| POST /radar/attempts ÷ GET /organizations/{id} | $(ratio "${RPS[radar_attempt]}" "${RPS[get_org]}") | ≥ 0.6 |"
  echo "| password logins, Radar on ÷ off | $(ratio "${RPS[login_radar_on]}" "${RPS[login_radar_off]}") | ≥ 0.95 |"
} | tee "$OUT"
