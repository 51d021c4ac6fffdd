#!/usr/bin/env bash
# Rebuilds the console's bundle in dist/ from web/: installs the pinned
# packages of package-lock.json, checks the types and bundles with esbuild.
# dist/ is committed and embedded in the binary (console.go), so that
# building riskledger needs no npm; run this after changing web/ and
# commit dist/ with the change. dist/sources.txt is the hash of what the
# bundle was built from: a test fails when the sources have changed since.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
npx tsc --noEmit -p .
rm -rf dist
mkdir -p dist
npx esbuild web/src/main.ts --bundle --minify --format=iife --target=es2020 \
  --legal-comments=eof --charset=utf8 --outfile=dist/app.js
cp web/index.html web/app.css web/favicon.svg dist/
cp node_modules/cytoscape/LICENSE dist/LICENSE.cytoscape.txt
find web package.json package-lock.json tsconfig.json build.sh -type f | LC_ALL=C sort | xargs sha256sum \
  | sha256sum | cut -d' ' -f1 > dist/sources.txt
ls -l dist
