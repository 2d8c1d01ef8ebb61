#!/usr/bin/env bash
# Load test: 64 connections for 60 s on /api/v1/stations/nearest (random
# points) and on job intake (auto-assignment), against the release binary
# on a fresh SQLite file (or the PostgreSQL URL given). Two rounds of
# nearest, intake, nearest; prints throughput, p50/p99 and errors per phase
# and the server's resident memory after each. The first round fills caches
# (SQLite's page caches, the allocator's arenas: memory rises in steps and
# then stays); the second repeats it, so a leak shows as growth between the
# rounds. Exits 1 on any error (non-2xx answer or socket error) or when the
# second round ends more than a quarter plus 16 MiB above the first.
# Usage: scripts/load.sh [seconds] [connections] [database-url]
# LOAD_BIN=path runs another build (CI runs the debug binary, briefly).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
conns=${2:-64}
bin=${LOAD_BIN:-target/release/repairnet}
[ -n "${LOAD_BIN:-}" ] || cargo build --release --quiet
dir=$(mktemp -d)
db=${3:-"sqlite://$dir/load.db"}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export REPAIRNET_NO_DEMO_HISTORY=true
token=$("$bin" token create --role agent --database "$db" 2>/dev/null)
# One client address sends everything: no per-client search limit.
REPAIRNET_LIMIT_SEARCH_PER_MIN=0 RUST_LOG=warn "$bin" serve \
  --bind 127.0.0.1:"$port" --database "$db" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
rss() { awk -v k="$(rss_kib)" 'BEGIN {printf "%.1f MiB", k/1024}'; }
errors=0
phase() {
  local name=$1; shift
  local out
  out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" "http://127.0.0.1:$port")
  local rps p50 p99 non2xx sock
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  sock=$(awk -F'[ ,]+' '/Socket errors/ {print $4+$6+$8+$10}' <<<"$out"); sock=${sock:-0}
  echo "$name: ${rps} req/s, p50 ${p50}, p99 ${p99}, non-2xx ${non2xx}, socket errors ${sock}; memory $(rss)"
  errors=$((errors + non2xx + sock))
}
echo "start: memory $(rss)"
round() {
  phase "nearest" -s scripts/nearest.lua
  REPAIRNET_TOKEN=$token phase "intake " -s scripts/intake.lua
  phase "nearest" -s scripts/nearest.lua
}
echo "round 1"; round
after_first=$(rss_kib)
echo "round 2"; round
after_last=$(rss_kib)
if [ "$after_last" -gt $((after_first * 5 / 4 + 16384)) ]; then
  echo "FAILED: memory grew from $((after_first / 1024)) MiB after round 1 to $((after_last / 1024)) MiB after round 2"
  errors=$((errors + 1))
fi
echo "memory after round 1: $((after_first / 1024)) MiB, after round 2: $((after_last / 1024)) MiB"
if [ "$errors" -ne 0 ]; then
  echo "FAILED: $errors errors"
  exit 1
fi
