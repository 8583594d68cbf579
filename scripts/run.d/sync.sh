# Sourced by scripts/run.sh (`make run`): starts `webhost sync` in the
# background; it accepts the control plane's API keys (auth.api_keys) and,
# for a quick start without signing up, a development key file made under
# the state directory with a freshly generated API key, whose plain text is
# printed once to the terminal and stored nowhere (the file holds only its
# SHA-256).
SYNC_STATE_DIR="${WEBHOST_STATE_DIR:-$PWD/tmp/run}/sync"
mkdir -p "$SYNC_STATE_DIR"
chmod 700 "$SYNC_STATE_DIR"
sync_addr="${WEBHOST_SYNC_ADDR:-127.0.0.1:8090}"
if [ -z "${WEBHOST_SYNC_KEYS_FILE:-}" ]; then
	sync_key="whs_live_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	printf '[{"key_id":"dev-%s","customer_id":"dev","key_sha256":"%s","scopes":["read","write"]}]\n' \
		"$(date +%s)" "$(printf '%s' "$sync_key" | sha256sum | cut -d' ' -f1)" >"$SYNC_STATE_DIR/keys.json"
	export WEBHOST_SYNC_KEYS_FILE="$SYNC_STATE_DIR/keys.json"
	printf 'sync dev API key (shown once, not stored): %s\n' "$sync_key"
	unset sync_key
fi
WEBHOST_SYNC_ADDR="$sync_addr" ./bin/webhost sync &
pids+=($!)
printf 'sync: ws://%s/sync/<document>?token=<key>  (metrics http://%s/metrics, health http://%s/healthz)\n' \
	"$sync_addr" "$sync_addr" "$sync_addr"
