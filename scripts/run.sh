#!/usr/bin/env bash
# `make run`: starts the platform in sandbox mode. Each service runs as a
# subcommand of bin/webhost; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
export WEBHOST_DATABASE_URL="${WEBHOST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/webhost?sslmode=disable}"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
./bin/webhost migrate
for svc in scripts/run.d/*.sh; do
	[ -e "$svc" ] || continue
	# shellcheck source=/dev/null
	source "$svc"
done
./bin/webhost serve &
pids+=($!)
wait -n "${pids[@]}"
