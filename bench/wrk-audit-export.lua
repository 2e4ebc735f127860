-- POST /audit_logs/exports for a range holding no events (wrk script): measures creating the
-- export, not building it. Reads BENCH_ORG from the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"organization_id":"%s","range_start":"2000-01-01T00:00:00Z","range_end":"2000-01-02T00:00:00Z"}',
  os.getenv("BENCH_ORG"))
