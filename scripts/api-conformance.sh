#!/usr/bin/env bash
# API conformance: schemathesis (PyPI) generates requests from the served
# OpenAPI document and checks every answer against it: no server error, every
# status documented, the documented content type and body schema.
#
#   scripts/api-conformance.sh [BINARY]      # default target/debug/repairnet
#
# SCHEMATHESIS_MAX_EXAMPLES (default 40) bounds the cases per operation; the
# run serves the demo network from a throwaway SQLite file with an admin
# token, so writes, deletes and token revokes hit nothing that matters. The
# change feed is left out: it is a stream that does not end (its own tests
# cover it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/repairnet}
version=4.32.5
venv=target/schemathesis-$version
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis==$version"
fi

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
db="sqlite://$work/conformance.db"
export REPAIRNET_NO_DEMO_HISTORY=true
token=$("$bin" token create --role admin --database "$db")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Generous search limits: the run is one client asking thousands of times.
REPAIRNET_LIMIT_SEARCH_PER_MIN=0 "$bin" serve --bind "127.0.0.1:$port" --database "$db" \
  >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

status=0
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" \
  --header "Authorization: Bearer $token" \
  --workers 1 \
  --exclude-path /api/v1/jobs/changes \
  --seed 1 \
  --no-color || status=$?
if grep -q "internal error" "$work/server.log"; then
  echo "the server logged internal errors:"
  grep "internal error" "$work/server.log" | head -20
  status=1
fi
exit $status
