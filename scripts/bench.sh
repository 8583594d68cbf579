#!/usr/bin/env bash
# `make bench`: runs every Go benchmark once and prints each figure next to
# the baseline measured in the same run (see internal/benchratio). Extra
# harnesses (Node load generators) live in scripts/bench.d/*.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCHTIME="${BENCHTIME:-2s}"
PKGS="${BENCH_PKGS:-./...}"
go test -run '^$' -bench "${BENCH:-.}" -benchtime "$BENCHTIME" -timeout 60m $PKGS 2>&1 | go run ./internal/benchratio
for extra in scripts/bench.d/*.sh; do
	[ -e "$extra" ] || continue
	echo "== $extra"
	bash "$extra"
done
