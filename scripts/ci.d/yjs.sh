#!/usr/bin/env bash
# Installs the pinned yjs npm package that sync/yjs's cross-check tests run
# against (Node 20 + npm). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../../sync/yjs/testdata/gen"
npm ci --no-audit --no-fund
