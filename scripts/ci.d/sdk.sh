#!/usr/bin/env bash
# Installs what the JavaScript SDK's tests need (sdk-js): its npm packages
# (npm ci) and, for the browser test, Debian's Chromium when
# /usr/bin/chromium is missing. Idempotent; works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/../../sdk-js"
if [ ! -x /usr/bin/chromium ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends chromium
fi
npm ci --no-audit --no-fund
