#!/usr/bin/env bash
# Sync benchmark: N documents x M real Yjs clients (Node) against our
# `webhost sync` (y-websocket protocol, PostgreSQL persistence) and the same
# load against @hocuspocus/server 4.7 (in memory, no persistence), printed
# side by side. Loopback only, bounded to well under two minutes.
# Tunables: YWS_BENCH_DOCS (20), YWS_BENCH_CLIENTS (5), YWS_BENCH_RATE
# (edits/s per client, 5), YWS_BENCH_SECONDS (15), YWS_BENCH_GOMAXPROCS
# (unset: Go's default; 1 runs ours on one thread, like Node).
set -euo pipefail
cd "$(dirname "$0")/../.."
DOCS="${YWS_BENCH_DOCS:-20}"
CLIENTS="${YWS_BENCH_CLIENTS:-5}"
RATE="${YWS_BENCH_RATE:-5}"
SECONDS_MEASURED="${YWS_BENCH_SECONDS:-15}"
INTEROP=sync/yws/interop
if ! command -v node >/dev/null; then echo "yws bench: skipped (node not installed)"; exit 0; fi
[ -d "$INTEROP/node_modules" ] || (cd "$INTEROP" && npm ci --no-audit --no-fund >/dev/null)
go build -o bin/webhost ./cmd/webhost

ADMIN_URL="${WEBHOST_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
DB="webhost_bench_yws_$$"
DB_URL="${ADMIN_URL%%/postgres\?*}/$DB?sslmode=disable"
STATE="$(mktemp -d)"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	rm -rf "$STATE"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
KEY="whs_live_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '[{"key_id":"bench","customer_id":"bench","key_sha256":"%s","scopes":["read","write"]}]\n' \
	"$(printf '%s' "$KEY" | sha256sum | cut -d' ' -f1)" >"$STATE/keys.json"

YWS_PORT="$(free_port)"
env ${YWS_BENCH_GOMAXPROCS:+GOMAXPROCS=$YWS_BENCH_GOMAXPROCS} WEBHOST_LOG_LEVEL=warn ./bin/webhost sync --addr "127.0.0.1:$YWS_PORT" --database-url "$DB_URL" \
	--keys-file "$STATE/keys.json" --messages-per-second 1000 2>"$STATE/yws.log" &
YWS_PID=$!
pids+=("$YWS_PID")
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$YWS_PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "http://127.0.0.1:$YWS_PORT/healthz" >/dev/null || { echo "yws bench: webhost sync did not start"; cat "$STATE/yws.log"; exit 1; }

HP_PORT="$(free_port)"
node "$INTEROP/hocuspocus-server.mjs" "$HP_PORT" >"$STATE/hp.out" 2>"$STATE/hp.log" &
HP_PID=$!
pids+=("$HP_PID")
for _ in $(seq 1 100); do grep -q ready "$STATE/hp.out" 2>/dev/null && break; sleep 0.1; done

CLK="$(getconf CLK_TCK)"
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
common=(--docs "$DOCS" --clients "$CLIENTS" --rate "$RATE" --duration "$SECONDS_MEASURED" --clktck "$CLK")
node "$INTEROP/bench.mjs" --target yws --url "ws://127.0.0.1:$YWS_PORT/sync" --token "$KEY" --pid "$YWS_PID" "${common[@]}" >"$STATE/yws.json"
node "$INTEROP/bench.mjs" --target hocuspocus --url "ws://127.0.0.1:$HP_PORT" --pid "$HP_PID" "${common[@]}" >"$STATE/hp.json"

echo "load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (other work on the machine skews every figure)"
python3 - "$STATE/yws.json" "$STATE/hp.json" <<'PY'
import json, sys
ours, base = (json.load(open(p)) for p in sys.argv[1:3])
import os
print(f"GOMAXPROCS for webhost sync: {os.environ.get('YWS_BENCH_GOMAXPROCS') or 'default'}")
print(f"yws bench: {ours['docs']} docs x {ours['clientsPerDoc']} clients = {ours['connections']} connections, "
      f"{ours['editsPerSecond']} edits/s offered, loopback")
rows = [
    ("deliveries/s", "deliveriesPerSecond", "{:.0f}", "higher"),
    ("fan-out p50 ms", "p50ms", "{:.2f}", "lower"),
    ("fan-out p95 ms", "p95ms", "{:.2f}", "lower"),
    ("fan-out p99 ms", "p99ms", "{:.2f}", "lower"),
    ("CPU-s / 1000 deliveries", "cpuSecondsPer1000Deliveries", "{:.4f}", "lower"),
    ("RSS / connection KiB", "rssPerConnectionKiB", "{:.1f}", "lower"),
    ("RSS idle MiB", "rssBaseMiB", "{:.1f}", "lower"),
    ("RSS loaded MiB", "rssLoadedMiB", "{:.1f}", "lower"),
]
print(f"{'metric':<26}{'webhost sync':>14}{'hocuspocus':>14}{'ours/theirs':>13}")
for label, key, fmt, better in rows:
    a, b = ours.get(key), base.get(key)
    ratio = f"{a / b:.3f}" if a is not None and b not in (None, 0) else "n/a"
    print(f"{label:<26}{fmt.format(a) if a is not None else 'n/a':>14}{fmt.format(b) if b is not None else 'n/a':>14}{ratio:>13}")
print("target: CPU/delivery and RSS/connection ratios <= 0.333 at equal or better latency")
print("note: webhost sync persists every update to PostgreSQL (its CPU is not counted); hocuspocus keeps documents in memory only")
PY
