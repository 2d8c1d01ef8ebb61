#!/usr/bin/env bash
# HTTP throughput of /api/v1/stations/nearest against the trivial /healthz of
# the same server in the same run (all middleware on). Needs wrk.
# Usage: scripts/bench_http.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
cargo build --release --quiet
dir=$(mktemp -d)
port=18181
# Load tests come from one address: no per-client search limit.
REPAIRNET_LIMIT_SEARCH_PER_MIN=0 RUST_LOG=warn ./target/release/repairnet serve --bind 127.0.0.1:$port --database "sqlite://$dir/bench.db" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
echo "== trivial endpoint /healthz"
wrk -t2 -c"$conns" -d"${secs}s" "http://127.0.0.1:$port/healthz" | grep -E "Requests/sec|Latency"
echo "== /api/v1/stations/nearest k=5, random points"
wrk -t2 -c"$conns" -d"${secs}s" -s scripts/nearest.lua "http://127.0.0.1:$port" | grep -E "Requests/sec|Latency"
