#!/usr/bin/env bash
# Job intake with auto-assignment on the demo network, SQLite, 16 concurrent
# clients; prints wrk's latency percentiles (p99 is the figure to watch).
# Usage: scripts/bench_intake.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
cargo build --release --quiet
dir=$(mktemp -d)
port=18182
db="sqlite://$dir/intake.db"
./target/release/repairnet migrate --database "$db" 2>/dev/null
token=$(./target/release/repairnet token create --role agent --database "$db" 2>/dev/null)
RUST_LOG=warn ./target/release/repairnet serve --bind 127.0.0.1:$port --database "$db" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
REPAIRNET_TOKEN=$token wrk -t2 -c16 -d"${secs}s" --latency -s scripts/intake.lua "http://127.0.0.1:$port" \
  | grep -E "Requests/sec|Latency|50%|75%|90%|99%|Non-2xx"
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/jobs?limit=1" >/dev/null
