# Shared set-up for the bench/*.sh scripts (sourced, not run): installs wrk, builds the release
# binary, starts `keystead serve` on a private embedded PostgreSQL, and gives the helpers every
# script uses — `api` (curl with the API key), `run_wrk NAME PATH [SCRIPT]` (one load phase,
# results in RPS/P50/P99[NAME]), `pgbench_tps FLAGS` (the machine's ceiling in the same run,
# same connections), `ratio A B`, `rss_kb FIELD` (the server's /proc status, kB).
#
# Settings (environment): DURATION (seconds per phase, 10), CONNS (32), THREADS (2), PORT,
# CARGO_TARGET_DIR (where the release binary is built).
# A script may set SERVER_ENV (extra `VAR=value` words for the server) before `bench_start`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18181}
BASE="http://127.0.0.1:$PORT"
KEY="sk_test_bench$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CLIENT="client_bench"
EMAIL="bench@example.com"
PASSWORD="correct horse battery staple"
WORK=$(mktemp -d /tmp/keystead-bench.XXXXXX)
SERVER_ENV=${SERVER_ENV:-}
mkdir -p bench/results
declare -A RPS P50 P99

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk; then
  echo "installing wrk…"
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
PGBIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$PGBIN/pgbench" ] || PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

bench_cleanup() {
  [ -n "${SERVER_PID:-}" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap bench_cleanup EXIT

# bench_start: builds (release) and starts the server, creates one organization ($ORG) and one
# password user; sets SERVER_PID, SOCK, PSQL, ENV_ID, IDLE_RSS.
bench_start() {
  echo "building release…"
  cargo build --release --quiet --bin keystead ${BUILD_EXTRA:-}
  echo "starting keystead on $BASE (embedded Postgres in $WORK)…"
  # Rate limiting stays on (its cost is part of what is measured) with limits far above the load.
  local high=1000000000/60
  local limits="general=$high,user_management_read=$high,user_management_write=$high"
  limits="$limits,authenticate_email=$high,authenticate_ip=$high,organization_delete=$high,public=$high"
  # shellcheck disable=SC2086
  env KEYSTEAD_BOOTSTRAP_API_KEY="$KEY" KEYSTEAD_BOOTSTRAP_CLIENT_ID="$CLIENT" \
    KEYSTEAD_RATE_LIMITS="$limits" KEYSTEAD_LOG=warn KEYSTEAD_DATA_DIR="$WORK/data" $SERVER_ENV \
    "${CARGO_TARGET_DIR:-target}/release/keystead" serve --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do curl -sf "$BASE/health" >/dev/null && break; sleep 0.1; done
  curl -sf "$BASE/health" >/dev/null || { cat "$WORK/server.log"; exit 1; }
  SOCK="$WORK/data/postgres/sock"
  PSQL=("$PGBIN/psql" -q -h "$SOCK" -U postgres -v ON_ERROR_STOP=1)
  IDLE_RSS=$(rss_kb VmRSS)
  ORG=$(api -X POST "$BASE/organizations" -d '{"name":"Bench"}' | json_field id)
  api -X POST "$BASE/user_management/users" -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >/dev/null
  ENV_ID=$("${PSQL[@]}" -At keystead -c "select environment_id from api_keys where revoked_at is null order by id limit 1")
}

rss_kb() { awk "/^$1:/ {print \$2}" "/proc/$SERVER_PID/status"; }
api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[\"$1\"])"; }
ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }

# run_wrk NAME PATH [SCRIPT]: one load phase; prints and records the RESULT line. The wrk script
# sees BENCH_CLIENT_ID, BENCH_API_KEY, BENCH_EMAIL, BENCH_PASSWORD and BENCH_ORG. WRK_BASE
# overrides the server ($BASE) for one call (the bare reference of bench/run.sh).
run_wrk() {
  local name=$1 path=$2 script=${3:-}
  cat ${script:+"$script"} bench/wrk-report.lua >"$WORK/$name.lua"
  local line
  line=$(BENCH_CLIENT_ID=$CLIENT BENCH_API_KEY=$KEY BENCH_EMAIL=$EMAIL BENCH_PASSWORD=$PASSWORD \
    BENCH_ORG=${ORG:-} wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$WORK/$name.lua" \
      -H "Authorization: Bearer $KEY" "${WRK_BASE:-$BASE}$path" | grep '^RESULT')
  RPS[$name]=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line")
  P50[$name]=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$line")
  P99[$name]=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$line")
  printf '  %-28s %s\n' "$name" "$line"
  # A phase whose requests failed measures nothing.
  if ! grep -q ' errors=0$' <<<"$line"; then echo "phase $name had errors: $line" >&2; exit 1; fi
}

# pgbench_tps FLAGS…: pgbench's tps on the server's own PostgreSQL (scale 10), at $CONNS
# connections for $DURATION seconds — `-S` (point reads) or `-N` (writes without the hot rows).
pgbench_tps() {
  "$PGBIN/createdb" -h "$SOCK" -U postgres pgbench 2>/dev/null || true
  [ -n "${PGBENCH_READY:-}" ] || "$PGBIN/pgbench" -h "$SOCK" -U postgres -i -q -s 10 pgbench >/dev/null 2>&1
  PGBENCH_READY=1
  "$PGBIN/pgbench" -h "$SOCK" -U postgres "$@" -c "$CONNS" -j "$THREADS" -T "$DURATION" pgbench 2>/dev/null \
    | awk '/^tps/ {print $3; exit}'
}

# phase_table NAME…: the Markdown rows of the named phases.
phase_table() {
  echo "| phase | requests/s | p50 ms | p99 ms |"
  echo "|---|---:|---:|---:|"
  for n in "$@"; do
    [ -n "${RPS[$n]:-}" ] && echo "| $n | ${RPS[$n]} | ${P50[$n]} | ${P99[$n]} |"
  done
}

machine_line() {
  echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); wrk -t$THREADS -c$CONNS -d${DURATION}s; load, server and Postgres share the cores."
}
