#!/usr/bin/env bash
# SCIM throughput per directory (bar: 25 req/s, Microsoft's validator). Release build, real
# socket, real PostgreSQL (embedded unless DATABASE_URL is set). Usage: bench/scim.sh [users]
set -euo pipefail
cd "$(dirname "$0")/.."
KEYSTEAD_BENCH_USERS="${1:-400}" cargo test --release --test scim_bench -- --nocapture 2>&1 \
  | grep -E "sequential:|4 clients:|dsync events|test result"
