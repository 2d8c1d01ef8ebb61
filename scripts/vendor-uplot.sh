#!/usr/bin/env bash
# Refreshes the vendored uPlot (the canvas chart library of the /kpi trend
# charts) from the npm registry. The page serves these copies; nothing is
# fetched from a CDN at run time. uPlot styles its elements through the
# CSSOM and ships its own rules as a stylesheet, so it runs under the staff
# pages' `style-src 'self'`.
# Usage: scripts/vendor-uplot.sh [VERSION]   (default: the newest 1.x)
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:-1}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$version" >/dev/null && tar xzf uplot-*.tgz)
dest=web/vendor/uplot
mkdir -p "$dest"
cp "$tmp/package/dist/uPlot.iife.min.js" "$tmp/package/dist/uPlot.min.css" "$tmp/package/LICENSE" "$dest/"
node -e 'console.log(require(process.argv[1]).version)' "$tmp/package/package.json" > "$dest/VERSION"
cat > "$dest/SOURCE" <<'NOTE'
uPlot (npm package "uplot", https://github.com/leeoniya/uPlot), MIT licence
(LICENSE here): dist/uPlot.iife.min.js (the global `uPlot`) and
dist/uPlot.min.css, unchanged. Refresh with scripts/vendor-uplot.sh.
NOTE
echo "uPlot $(cat "$dest/VERSION") vendored in $dest"
