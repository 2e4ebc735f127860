-- Sends `If-None-Match: $BENCH_ETAG` (a conditional poll that the server answers 304).
wrk.headers["If-None-Match"] = os.getenv("BENCH_ETAG")
