#!/usr/bin/env bash
# Runs scim2-tester (a third-party SCIM 2.0 compliance checker, PyPI) against a live Keystead
# directory. Usage: run-scim2-tester.sh <scim base url> <bearer token>
# Installs pinned versions into target/dsync-tools/venv-scim2 on first use. Exit status is
# non-zero when any check reports ERROR or CRITICAL (see run_scim2_tester.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$root/target/dsync-tools/venv-scim2"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import scim2_tester, httpx2' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q scim2-tester==0.5.2 'scim2-client[httpx2]==0.13.2'
fi
exec "$venv/bin/python" "$here/run_scim2_tester.py" "$@"
