#!/usr/bin/env bash
# Audit Logs benchmark (issue 12): release build on a private embedded PostgreSQL, wrk on loopback.
#
#   bench/audit_logs.sh                 # DURATION=10 CONNS=32; results in bench/results/audit_logs.md
#
# Phases, each next to a ceiling measured in the same run with the same connections:
# - ingestion: POST /audit_logs/events with schema validation (an action whose schema declares
#   target types and metadata JSON Schemas) and a fresh Idempotency-Key per request, as a ratio
#   of `pgbench -N` (target ≥ 0.5×);
# - the same with a GenericHttps log stream configured for the organization (bench/sink.py
#   answering 200): streaming must not slow ingestion, delivery is the worker's;
# - size independence: listing an action's schemas and creating an export, at 10 k and at 1 M
#   events in the table (seeded by SQL; target within 1.2×);
# - export of 1 M events: seconds from POST to `ready`, and the server's RSS growth meanwhile
#   (sampled every 100 ms; target < 50 MB, as the CSV is streamed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
OUT=bench/results/audit_logs.md
bench_start

api -X POST "$BASE/audit_logs/actions/user.signed_in/schemas" -d '{
  "actor": {"metadata": {"type": "object", "properties": {"role": {"type": "string"}}}},
  "targets": [{"type": "team"}],
  "metadata": {"type": "object", "properties": {"attempts": {"type": "number"}}}}' >/dev/null

# seed_events N: audit events up to N rows in $ORG, spread over the last 30 days.
seed_events() {
  "${PSQL[@]}" keystead <<SQL
insert into audit_log_events (environment_id, id, organization_id, action, version, occurred_at,
                              actor, targets, context, metadata)
  select '$ENV_ID', 'audit_log_event_0SEED' || lpad(g::text, 21, '0'), '$ORG', 'user.signed_in', 1,
         now() - (g % 2592000) * interval '1 second',
         jsonb_build_object('id', 'user_' || (g % 1000), 'type', 'user', 'name', 'User ' || (g % 1000),
                            'metadata', jsonb_build_object('role', 'member')),
         jsonb_build_array(jsonb_build_object('id', 'team_' || (g % 50), 'type', 'team', 'name', 'Team')),
         '{"location": "203.0.113.7", "user_agent": "seed"}', '{"attempts": 1}'
  from generate_series((select count(*) from audit_log_events where id like 'audit_log_event_0SEED%') + 1, $1) g;
-- Vacuumed now, so autovacuum of the new rows does not run during the next phases.
vacuum analyze audit_log_events;
SQL
}

echo "ingestion (${DURATION}s, $CONNS connections):"
run_wrk ingest "/audit_logs/events" bench/wrk-audit-event.lua
PGBENCH_N=$(pgbench_tps -N)
echo "  pgbench -N tps: $PGBENCH_N"

echo "ingestion with a log stream:"
SINK_PORT=$((PORT + 1))
python3 bench/sink.py "$SINK_PORT" >/dev/null 2>&1 &
SINK_PID=$!
api -X PATCH "$BASE/environment" -d '{"settings": {"allow_http_webhook_endpoints": true}}' >/dev/null
api -X POST "$BASE/organizations/$ORG/audit_log_stream" \
  -d "{\"type\":\"GenericHttps\",\"url\":\"http://127.0.0.1:$SINK_PORT/siem\"}" >/dev/null
run_wrk ingest_streamed "/audit_logs/events" bench/wrk-audit-event.lua
for _ in $(seq 1 600); do
  QUEUED=$("${PSQL[@]}" -At keystead -c "select count(*) from audit_log_stream_queue")
  [ "$QUEUED" = 0 ] && break; sleep 0.5
done
STREAM_STATE=$(api "$BASE/organizations/$ORG/audit_log_configuration" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["log_stream"]["state"])')
echo "  stream $STREAM_STATE, $QUEUED events still queued"
api -X DELETE "$BASE/organizations/$ORG/audit_log_stream" >/dev/null
kill "$SINK_PID" 2>/dev/null || true

echo "size independence:"
seed_events 10000
run_wrk list_schemas_10k "/audit_logs/actions/user.signed_in/schemas?limit=10"
run_wrk create_export_10k "/audit_logs/exports" bench/wrk-audit-export.lua
seed_events 1000000
run_wrk list_schemas_1m "/audit_logs/actions/user.signed_in/schemas?limit=10"
run_wrk create_export_1m "/audit_logs/exports" bench/wrk-audit-export.lua

echo "export of 1 M events:"
# Let the worker drain the empty exports the phases above created.
for _ in $(seq 1 600); do
  PENDING=$("${PSQL[@]}" -At keystead -c "select count(*) from audit_log_exports where state = 'pending'")
  [ "$PENDING" = 0 ] && break; sleep 0.5
done
BEFORE_RSS=$(rss_kb VmRSS)
START=$(date +%s.%N)
EXPORT=$(api -X POST "$BASE/audit_logs/exports" -d "{\"organization_id\":\"$ORG\",
  \"range_start\":\"$(date -u -d '-40 days' +%FT%TZ)\",\"range_end\":\"$(date -u -d '+1 hour' +%FT%TZ)\"}" | json_field id)
MAX_RSS=$BEFORE_RSS; STATE=pending
while [ "$STATE" = pending ]; do
  RSS=$(rss_kb VmRSS); [ "$RSS" -gt "$MAX_RSS" ] && MAX_RSS=$RSS
  STATE=$(api "$BASE/audit_logs/exports/$EXPORT" | json_field state)
  sleep 0.1
done
END=$(date +%s.%N)
EXPORT_SECS=$(python3 -c "print(f'{$END - $START:.1f}')")
ROWS=$(curl -sf "$(api "$BASE/audit_logs/exports/$EXPORT" | json_field url)" | wc -l)
echo "  export: state=$STATE in ${EXPORT_SECS}s, $ROWS CSV lines, RSS +$(((MAX_RSS - BEFORE_RSS) / 1024)) MB"

{
  echo "# Keystead Audit Logs benchmark — $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
  echo
  machine_line
  echo
  phase_table ingest ingest_streamed list_schemas_10k list_schemas_1m create_export_10k create_export_1m
  echo
  echo "| ceiling / ratio | value | target |"
  echo "|---|---:|---:|"
  echo "| pgbench -N tps ($CONNS connections) | $PGBENCH_N | |"
  echo "| ingestion ÷ pgbench -N | $(ratio "${RPS[ingest]}" "$PGBENCH_N") | ≥ 0.5 |"
  echo "| ingestion with a log stream ÷ without | $(ratio "${RPS[ingest_streamed]}" "${RPS[ingest]}") | ≈ 1 |"
  echo "| stream state / events still queued after delivery drained | $STREAM_STATE / $QUEUED | active / 0 |"
  echo "| schema list at 1 M ÷ 10 k events | $(ratio "${RPS[list_schemas_1m]}" "${RPS[list_schemas_10k]}") | ≥ 0.83 |"
  echo "| export creation at 1 M ÷ 10 k events | $(ratio "${RPS[create_export_1m]}" "${RPS[create_export_10k]}") | ≥ 0.83 |"
  echo "| export of 1 M events: seconds to \`$STATE\` ($ROWS CSV lines) | $EXPORT_SECS | |"
  echo "| server RSS growth during that export (MB) | $(((MAX_RSS - BEFORE_RSS) / 1024)) | < 50 |"
} | tee "$OUT"
