#!/usr/bin/env bash
# Keystead benchmark: builds release, starts `keystead serve` on the embedded default Postgres,
# seeds data, drives load with wrk on loopback, and prints Keystead's numbers next to the
# machine's ceilings (pgbench -S on the same Postgres, argon2id hash rate at our parameters).
#
#   bench/run.sh                # full run (about 4 minutes on 2 cores)
#   DURATION=5 bench/run.sh     # shorter phases
#
# Writes a Markdown summary to bench/results/latest.md. Load goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}        # seconds per load phase
CONNS=${CONNS:-32}              # concurrent connections (same for pgbench)
THREADS=${THREADS:-2}
PORT=${PORT:-18181}
BASE="http://127.0.0.1:$PORT"
KEY="sk_test_bench$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CLIENT="client_bench"
EMAIL="bench@example.com"
PASSWORD="correct horse battery staple"
WORK=$(mktemp -d /tmp/keystead-bench.XXXXXX)
OUT=bench/results/latest.md
mkdir -p bench/results

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
  echo "installing wrk…"
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
# oha drives a fixed request rate (wrk cannot), for p99 at half of peak throughput.
export PATH="$HOME/.cargo/bin:$PATH"
if ! need oha; then
  echo "installing oha (cargo install, a few minutes once)…"
  cargo install oha --locked --quiet
fi
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/pgbench" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

echo "building release…"
cargo build --release --quiet --bin keystead --example argon2_rate

cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "starting keystead on $BASE (embedded Postgres in $WORK)…"
# Rate limiting stays on (its cost is part of what is measured) with limits far above the load.
HIGH=1000000000/60
LIMITS="general=$HIGH,user_management_read=$HIGH,user_management_write=$HIGH,authenticate_email=$HIGH"
LIMITS="$LIMITS,authenticate_ip=$HIGH,organization_delete=$HIGH,public=$HIGH"
KEYSTEAD_BOOTSTRAP_API_KEY=$KEY KEYSTEAD_BOOTSTRAP_CLIENT_ID=$CLIENT KEYSTEAD_RATE_LIMITS=$LIMITS \
KEYSTEAD_LOG=warn KEYSTEAD_DATA_DIR=$WORK/data \
  target/release/keystead serve --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
curl -sf "$BASE/health" >/dev/null || { cat "$WORK/server.log"; exit 1; }
SOCK="$WORK/data/postgres/sock"
PSQL=("$PGBIN/psql" -q -h "$SOCK" -U postgres -v ON_ERROR_STOP=1)
rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$SERVER_PID/status"; }
IDLE_RSS=$(rss_kb VmRSS)

api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
ORG=$(api -X POST "$BASE/organizations" -d '{"name":"Bench"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
api -X POST "$BASE/user_management/users" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >/dev/null
ENV_ID=$("${PSQL[@]}" -At keystead -c "select environment_id from api_keys where revoked_at is null order by id limit 1")

# run_wrk NAME PATH [SCRIPT]: one load phase; prints and records the RESULT line.
declare -A RPS P50 P99
run_wrk() {
  local name=$1 path=$2 script=${3:-}
  cat ${script:+"$script"} bench/wrk-report.lua >"$WORK/$name.lua"
  local line
  line=$(BENCH_CLIENT_ID=$CLIENT BENCH_API_KEY=$KEY BENCH_EMAIL=$EMAIL BENCH_PASSWORD=$PASSWORD \
    wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/$name.lua" \
      -H "Authorization: Bearer $KEY" "$BASE$path" | grep '^RESULT')
  RPS[$name]=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
  P50[$name]=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
  P99[$name]=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
  printf '  %-28s %s\n' "$name" "$line"
}

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
seed_rows 1000000
MID1M="org_0SEED$(printf '%010d' 500000)"; EMID1M="event_0SEED$(printf '%010d' 500000)"
run_wrk page_orgs_1m "/organizations?limit=10&after=$MID1M"
run_wrk page_events_1m "/events?limit=100&after=$EMID1M"
PEAK_RSS=$(rss_kb VmHWM)

echo "ceilings:"
"$PGBIN/createdb" -h "$SOCK" -U postgres pgbench 2>/dev/null || true
"$PGBIN/pgbench" -h "$SOCK" -U postgres -i -q -s 10 pgbench >/dev/null 2>&1
PGBENCH_TPS=$("$PGBIN/pgbench" -h "$SOCK" -U postgres -S -c "$CONNS" -j "$THREADS" -T "$DURATION" pgbench 2>/dev/null \
  | awk '/^tps/ {print $3; exit}')
echo "  pgbench -S tps: $PGBENCH_TPS"
ARGON2=$(target/release/examples/argon2_rate "$THREADS" "$DURATION")
echo "  argon2id hashes/s: $ARGON2"

ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
{
  echo "# Keystead benchmark — $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; wrk -t$THREADS -c$CONNS -d${DURATION}s (logins: 8 connections); load, server and Postgres share the cores."
  echo
  echo "| phase | requests/s | p50 ms | p99 ms |"
  echo "|---|---:|---:|---:|"
  for n in get_org get_org_half_peak list_orgs create_org list_events authenticate flood_auth get_org_during_flood page_orgs_10k page_orgs_1m page_events_10k page_events_1m; do
    [ -n "${RPS[$n]:-}" ] && echo "| $n | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} |"
  done
  echo
  echo "| ceiling / ratio | value |"
  echo "|---|---:|"
  echo "| pgbench -S tps ($CONNS connections) | $PGBENCH_TPS |"
  echo "| GET /organizations/{id} ÷ pgbench -S | $(ratio "${RPS[get_org]}" "$PGBENCH_TPS") |"
  echo "| argon2id hashes/s ($THREADS threads) | $ARGON2 |"
  echo "| password logins ÷ argon2 rate | $(ratio "${RPS[authenticate]}" "$ARGON2") |"
  echo "| orgs page at 1M ÷ 10k (throughput) | $(ratio "${RPS[page_orgs_1m]}" "${RPS[page_orgs_10k]}") |"
  echo "| events page at 1M ÷ 10k (throughput) | $(ratio "${RPS[page_events_1m]}" "${RPS[page_events_10k]}") |"
  echo "| RSS idle / peak (MB) | $((IDLE_RSS / 1024)) / $((PEAK_RSS / 1024)) |"
} | tee "$OUT"
