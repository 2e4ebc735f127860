-- POST /user_management/authenticate, password grant (wrk script). Reads BENCH_CLIENT_ID,
-- BENCH_API_KEY, BENCH_EMAIL and BENCH_PASSWORD from the environment.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format(
  '{"grant_type":"password","client_id":"%s","client_secret":"%s","email":"%s","password":"%s"}',
  os.getenv("BENCH_CLIENT_ID"), os.getenv("BENCH_API_KEY"), os.getenv("BENCH_EMAIL"), os.getenv("BENCH_PASSWORD"))
