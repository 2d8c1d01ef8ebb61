#!/usr/bin/env bash
# Refreshes the offline base layer of the map page from the npm registry:
# world-atlas (Natural Earth country outlines as TopoJSON, public domain)
# and topojson-client (turns them into GeoJSON in the browser). Nothing of
# either is fetched at run time; the page serves these copies.
# Usage: scripts/vendor-basemap.sh [WORLD_ATLAS_VERSION] [TOPOJSON_CLIENT_VERSION]
#        (defaults: 2.0.2 and the newest 3.x)
set -euo pipefail
cd "$(dirname "$0")/.."
atlas_version="${1:-2.0.2}"
client_version="${2:-3}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

unpack() { # NAME VERSION -> directory of the unpacked package
  local dir="$tmp/$1"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "$1@$2" >/dev/null && tar xzf ./*.tgz)
  echo "$dir/package"
}
version_of() { node -e 'console.log(require(process.argv[1]).version)' "$1/package.json"; }

# 1:110m keeps the file near 100 KB; the layer only has to give bearings
# until tiles load, not street detail.
atlas=$(unpack world-atlas "$atlas_version")
dest=web/vendor/world-atlas
mkdir -p "$dest"
cp "$atlas/countries-110m.json" "$atlas/LICENSE" "$dest/"
version_of "$atlas" > "$dest/VERSION"
cat > "$dest/SOURCE" <<'EOF'
world-atlas (npm package, https://github.com/topojson/world-atlas):
countries-110m.json, Natural Earth Admin 0 countries at 1:110m as TopoJSON.
The geometry is Natural Earth's (https://www.naturalearthdata.com), which
is in the public domain (https://www.naturalearthdata.com/about/terms-of-use/).
LICENSE here is the ISC licence of the world-atlas packaging.
Refresh with scripts/vendor-basemap.sh.
EOF
echo "world-atlas $(cat "$dest/VERSION") vendored in $dest"

client=$(unpack topojson-client "$client_version")
dest=web/vendor/topojson-client
mkdir -p "$dest"
cp "$client/dist/topojson-client.min.js" "$client/LICENSE" "$dest/"
version_of "$client" > "$dest/VERSION"
echo "topojson-client $(cat "$dest/VERSION") vendored in $dest"
