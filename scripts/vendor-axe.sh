#!/usr/bin/env bash
# Refreshes the vendored axe-core (the accessibility checker the browser
# tests inject into every page) from the npm registry.
# Usage: scripts/vendor-axe.sh [VERSION]   (default: the newest 4.x)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-4}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "axe-core@$version" >/dev/null && tar xzf axe-core-*.tgz)
dest=tests/vendor/axe-core
mkdir -p "$dest"
cp "$tmp/package/axe.min.js" "$tmp/package/LICENSE" "$dest/"
node -e 'console.log(require(process.argv[1]).version)' "$tmp/package/package.json" > "$dest/VERSION"
echo "axe-core $(cat "$dest/VERSION") vendored in $dest"
