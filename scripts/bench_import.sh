#!/usr/bin/env bash
# CSV import throughput into a fresh SQLite file: generates N valid station
# rows (default 100,000) and times `repairnet import`.
# Usage: scripts/bench_import.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$rows" > "$dir/stations.csv" <<'PY'
import random, sys
n = int(sys.argv[1])
rng = random.Random(7)
print("id,name,province,city,adcode,region,address,phone,lat,lon,services,products,opening_hours,timezone,onsite_radius_km")
for i in range(n):
    lat, lon = 22 + rng.random() * 20, 100 + rng.random() * 22
    onsite = i % 2 == 0
    print(f"B{i:07d},服务站{i},四川省,成都市,510107,southwest,天府大道{i}号,028-{i % 10000000:07d},"
          f"{lat:.6f},{lon:.6f},{'onsite;carry_in' if onsite else 'carry_in'},notebook;desktop,"
          f"Mo-Su 09:00-18:00,Asia/Shanghai,{'30' if onsite else ''}")
PY
./target/release/repairnet migrate --database "sqlite://$dir/bench.db" 2>/dev/null
start=$(date +%s.%N)
./target/release/repairnet import "$dir/stations.csv" --database "sqlite://$dir/bench.db"
end=$(date +%s.%N)
python3 -c "import sys; r, s = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'{r} rows in {s:.2f} s = {r / s:,.0f} rows/s')" "$rows" "$start" "$end"
