#!/bin/sh
# Container entrypoint: the image has no PostgreSQL of its own, so DATABASE_URL is required.
set -eu
if [ -z "${DATABASE_URL:-}" ]; then
    echo "keystead: DATABASE_URL is not set. The container needs an external PostgreSQL:" >&2
    echo "  docker run -e DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/DB ..." >&2
    exit 64
fi
exec /usr/local/bin/keystead "$@"
