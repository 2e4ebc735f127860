#!/usr/bin/env bash
# Installs the official WorkOS SDKs (pinned) into target/dsync-tools for the webhook signature
# tests: Python `workos` in a venv and Node `@workos-inc/node` under node_modules. Idempotent.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
tools="$root/target/dsync-tools"
mkdir -p "$tools"
if [ ! -x "$tools/venv-workos/bin/python" ] || ! "$tools/venv-workos/bin/python" -c 'import workos' 2>/dev/null; then
  python3 -m venv "$tools/venv-workos"
  "$tools/venv-workos/bin/pip" install -q workos==10.7.0
fi
if [ ! -f "$tools/node/node_modules/@workos-inc/node/package.json" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tools/node" @workos-inc/node@11.0.0
fi
echo "$tools"
