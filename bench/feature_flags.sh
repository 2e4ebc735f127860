#!/usr/bin/env bash
# Feature Flags benchmark (issue 15): release build on a private embedded PostgreSQL, wrk on
# loopback.
#
#   bench/feature_flags.sh          # DURATION=10 CONNS=32; results in bench/results/feature_flags.md
#
# Seeds FLAGS flags (default 20) with a user target and an organization target each, then
# measures, at the same connections in the same run:
# - GET /organizations/{id} (the point read every ratio is against);
# - GET /sdk/feature-flags answered 200 (the full poll body the Node runtime client reads);
# - GET /sdk/feature-flags with the current ETag in If-None-Match, answered 304 (one indexed read
#   of the environment's flag version; target ≥ 1.0× the point read).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=bench/results/feature_flags.md
FLAGS=${FLAGS:-20}
bench_start

USER_ID=$(api "$BASE/user_management/users?limit=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['data'][0]['id'])")
for i in $(seq 1 "$FLAGS"); do
  api -X POST "$BASE/feature-flags" -d "{\"slug\":\"flag-$i\",\"name\":\"Flag $i\",\"enabled\":true}" >/dev/null
  api -X POST "$BASE/feature-flags/flag-$i/targets/$USER_ID" -d '{}' >/dev/null
  api -X POST "$BASE/feature-flags/flag-$i/targets/$ORG" -d '{}' >/dev/null
done
ETAG=$(curl -sf -D - -o /dev/null -H "Authorization: Bearer $KEY" "$BASE/sdk/feature-flags" \
  | awk 'tolower($1) == "etag:" {print $2}' | tr -d '\r')
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" -H "If-None-Match: $ETAG" \
  "$BASE/sdk/feature-flags")
[ "$CODE" = 304 ] || { echo "expected 304 for If-None-Match $ETAG, got $CODE"; exit 1; }
export BENCH_ETAG=$ETAG
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

echo "phases (${DURATION}s each, $CONNS connections; $FLAGS flags, 2 targets each):"
run_wrk get_org "/organizations/$ORG"
run_wrk sdk_poll_200 "/sdk/feature-flags"
run_wrk sdk_poll_304 "/sdk/feature-flags" bench/wrk-if-none-match.lua
BYTES=$(curl -sf -H "Authorization: Bearer $KEY" "$BASE/sdk/feature-flags" | wc -c)

{
  echo "# Keystead Feature Flags benchmark — $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo
  machine_line
  echo "Load average before the phases: $LOAD_START. Poll body: $BYTES bytes ($FLAGS flags, 2 targets each)."
  echo
  phase_table get_org sdk_poll_200 sdk_poll_304
  echo
  echo "| ratio | value | target |"
  echo "|---|---:|---:|"
  echo "| GET /sdk/feature-flags 200 ÷ GET /organizations/{id} | $(ratio "${RPS[sdk_poll_200]}" "${RPS[get_org]}") | |"
  echo "| GET /sdk/feature-flags 304 ÷ GET /organizations/{id} | $(ratio "${RPS[sdk_poll_304]}" "${RPS[get_org]}") | ≥ 1.0 |"
} | tee "$OUT"
