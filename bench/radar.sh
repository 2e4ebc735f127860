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
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18282}
BASE="http://127.0.0.1:$PORT"
KEY="sk_test_bench$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CLIENT="client_bench"
EMAIL="bench@example.com"
PASSWORD="correct horse battery staple"
WORK=$(mktemp -d /tmp/keystead-radar-bench.XXXXXX)
OUT=bench/results/radar.md
mkdir -p bench/results

command -v wrk >/dev/null 2>&1 || { echo "installing wrk…"; (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null; }
echo "building release…"
cargo build --release --quiet --bin keystead

cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

HIGH=1000000000/60
LIMITS="general=$HIGH,user_management_read=$HIGH,user_management_write=$HIGH,authenticate_email=$HIGH"
LIMITS="$LIMITS,authenticate_ip=$HIGH,organization_delete=$HIGH,public=$HIGH"
KEYSTEAD_BOOTSTRAP_API_KEY=$KEY KEYSTEAD_BOOTSTRAP_CLIENT_ID=$CLIENT KEYSTEAD_RATE_LIMITS=$LIMITS \
KEYSTEAD_LOG=warn KEYSTEAD_DATA_DIR=$WORK/data \
  "${CARGO_TARGET_DIR:-target}/release/keystead" serve --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/health" >/dev/null || { cat "$WORK/server.log"; exit 1; }

api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
ORG=$(api -X POST "$BASE/organizations" -d '{"name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api -X POST "$BASE/user_management/users" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >/dev/null

declare -A RPS P50 P99
run_wrk() { # run_wrk NAME PATH [SCRIPT]
  local name=$1 path=$2 script=${3:-}
  cat ${script:+"$script"} bench/wrk-report.lua >"$WORK/$name.lua"
  local line
  line=$(BENCH_CLIENT_ID=$CLIENT BENCH_API_KEY=$KEY BENCH_EMAIL=$EMAIL BENCH_PASSWORD=$PASSWORD \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/$name.lua" \
      -H "Authorization: Bearer $KEY" "$BASE$path" | grep '^RESULT')
  RPS[$name]=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
  P50[$name]=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
  P99[$name]=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
  printf '  %-24s %s\n' "$name" "$line"
  # A phase whose requests failed measures nothing.
  if ! grep -q ' errors=0$' <<<"$line"; then echo "phase $name had errors: $line" >&2; exit 1; fi
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load phases (${DURATION}s each):"
run_wrk get_org "/organizations/$ORG"
run_wrk radar_attempt "/radar/attempts" bench/wrk-radar-attempt.lua
CONNS_SAVED=$CONNS; CONNS=8
run_wrk login_radar_off "/user_management/authenticate" bench/wrk-authenticate.lua
api -X PATCH "$BASE/environment" -d '{"settings":{"radar":{"enabled":true}}}' >/dev/null
run_wrk login_radar_on "/user_management/authenticate" bench/wrk-authenticate.lua
CONNS=$CONNS_SAVED
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
{
  echo "# Keystead Radar benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores; wrk -t$THREADS -c$CONNS -d${DURATION}s (logins: 8 connections); load average at start $LOAD_START, at end $LOAD_END."
  echo
  echo "| phase | requests/s | p50 ms | p99 ms |"
  echo "|---|---:|---:|---:|"
  for n in get_org radar_attempt login_radar_off login_radar_on; do
    echo "| $n | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} |"
  done
  echo
  echo "| ratio | value | target |"
  echo "|---|---:|---:|"
  echo "| POST /radar/attempts ÷ GET /organizations/{id} | $(ratio "${RPS[radar_attempt]}" "${RPS[get_org]}") | ≥ 0.6 |"
  echo "| password logins, Radar on ÷ off | $(ratio "${RPS[login_radar_on]}" "${RPS[login_radar_off]}") | ≥ 0.95 |"
} | tee "$OUT"
