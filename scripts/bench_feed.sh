#!/usr/bin/env bash
# Does the change feed cost the directory anything? /api/v1/stations/nearest
# throughput (wrk, scripts/nearest.lua) without long polls, then with POLLS
# long polls on /api/v1/jobs/changes always open (each poller re-asks as soon
# as its 25 s wait ends), then without again as a noise check; same server,
# same run. Needs wrk and curl.
# Usage: scripts/bench_feed.sh [seconds] [connections] [polls]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
polls=${3:-50}
for tool in wrk curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "$tool is missing: install it first (Debian: apt-get install -y $tool)" >&2
    exit 1
  fi
done
cargo build --release --quiet
dir=$(mktemp -d)
port=18182
db="sqlite://$dir/bench.db"
pollers=()
stop_pollers() {
  if ((${#pollers[@]})); then kill "${pollers[@]}" 2>/dev/null || true; fi
  if ((${#pollers[@]})); then wait "${pollers[@]}" 2>/dev/null || true; fi
  pollers=()
}
# Load tests come from one address: no per-client search limit.
REPAIRNET_LIMIT_SEARCH_PER_MIN=0 RUST_LOG=warn ./target/release/repairnet serve --bind 127.0.0.1:$port --database "$db" &
pid=$!
trap 'stop_pollers; kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
token=$(./target/release/repairnet token create --role dispatcher --label bench-feed --database "$db" 2>/dev/null)
feed="http://127.0.0.1:$port/api/v1/jobs/changes?after=latest&wait=25"
curl -sf -H "Authorization: Bearer $token" "${feed/wait=25/wait=0}" >/dev/null ||
  { echo "the change feed refused the token" >&2; exit 1; }

# Prints wrk's latency and throughput lines; remembers Requests/sec in $rps.
rps=0
nearest() {
  local out
  out=$(wrk -t2 -c"$conns" -d"${secs}s" -s scripts/nearest.lua "http://127.0.0.1:$port")
  grep -E "Requests/sec|Latency" <<<"$out"
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
}

# One poller: a long poll always open; on TERM it ends its curl too.
poller() {
  local c=
  trap 'kill $c 2>/dev/null; exit 0' TERM
  while :; do
    curl -s -o /dev/null -H "Authorization: Bearer $token" "$feed" &
    c=$!
    wait $c || true
  done
}

echo "== /api/v1/stations/nearest k=5, no long polls"
nearest
base=$rps

for _ in $(seq 1 "$polls"); do
  poller &
  pollers+=($!)
done
sleep 1
open=$(pgrep -c -P "$(IFS=,; echo "${pollers[*]}")" curl || true)
echo "== /api/v1/stations/nearest k=5, $open long polls open on /api/v1/jobs/changes (wait=25)"
nearest
with=$rps
stop_pollers
# A poll whose client went away may still wait out its 25 s on the server.
sleep 26

echo "== /api/v1/stations/nearest k=5, no long polls again (noise check)"
nearest
again=$rps

# The two runs without bracket the one with: their mean cancels a steady
# drift, their difference is the noise the ratio has to beat.
awk -v a="$base" -v b="$with" -v c="$again" 'BEGIN {
  printf "ratio with/without long polls: %.3f against the first run without, %.3f against the mean of both (runs without differ by %.1f%%)\n",
    b / a, b / ((a + c) / 2), 100 * (c - a) / a }'
