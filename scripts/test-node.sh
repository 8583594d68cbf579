#!/usr/bin/env bash
# Runs the Node test suites (vitest, interop checks) of the directories that
# have one. Directories are listed in scripts/node-test-dirs, one per line.
set -euo pipefail
cd "$(dirname "$0")/.."
ran=0
if [ -f scripts/node-test-dirs ]; then
	while read -r dir; do
		[ -z "$dir" ] && continue
		case "$dir" in \#*) continue ;; esac
		echo "== npm test in $dir"
		(cd "$dir" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm test)
		ran=$((ran + 1))
	done < scripts/node-test-dirs
fi
echo "node test suites run: $ran"
