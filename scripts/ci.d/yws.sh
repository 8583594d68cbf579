#!/usr/bin/env bash
# CI setup for sync/yws: Node 20+ with npm, and the interop/benchmark
# harness's packages (yjs, y-websocket, ws, y-protocols, @hocuspocus/*),
# installed exactly from package-lock.json. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
dir=sync/yws/interop
# npm ci only when the lock file changed since the last install.
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$dir/node_modules/.webhost-lock-sha256" 2>/dev/null)" != "$want" ]; then
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
	echo "$want" >"$dir/node_modules/.webhost-lock-sha256"
fi
node --version
