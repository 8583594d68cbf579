# Sourced by scripts/run.sh (`make run`). Without provider credentials the
# platform runs in sandbox mode against `webhost sim`: this starts the
# simulators, records the pid in the caller's `pids` array, and exports the
# base URLs the control plane uses in place of the real APIs.
if [ -z "${HCLOUD_TOKEN:-}" ] && [ -z "${FLY_API_TOKEN:-}" ] && [ -z "${CLOUDFLARE_API_TOKEN:-}" ]; then
	WEBHOST_SIM_ADDR="${WEBHOST_SIM_ADDR:-127.0.0.1:4010}"
	export WEBHOST_SIM_ADDR
	./bin/webhost sim --addr "$WEBHOST_SIM_ADDR" >/dev/null &
	pids+=($!)
	sim_root="http://$WEBHOST_SIM_ADDR"
	for _ in $(seq 1 50); do
		curl -fsS "$sim_root/_sim/state" >/dev/null 2>&1 && break
		sleep 0.1
	done
	export WEBHOST_SANDBOX=1
	export WEBHOST_SIM_HETZNER_URL="$sim_root/hetzner/v1"
	export WEBHOST_SIM_FLY_URL="$sim_root/fly"
	export WEBHOST_SIM_CLOUDFLARE_URL="$sim_root/cloudflare/client/v4"
	export WEBHOST_SIM_CONTROL_URL="$sim_root/_sim"
	echo "sandbox mode: no provider credentials set; simulated Hetzner, Fly.io and Cloudflare at $sim_root (state: $sim_root/_sim/state)"
else
	echo "provider credentials set: using the real Hetzner, Fly.io and Cloudflare APIs"
fi

# Stripe in sandbox mode: stripe-mock when installed (scripts/ci.d/providers.sh
# installs it), else billing stays on the 14-day trial without checkout.
if [ -z "${STRIPE_SECRET_KEY:-}" ]; then
	stripe_mock="$(command -v stripe-mock || true)"
	[ -z "$stripe_mock" ] && [ -x "$(go env GOPATH 2>/dev/null)/bin/stripe-mock" ] && stripe_mock="$(go env GOPATH)/bin/stripe-mock"
	if [ -n "$stripe_mock" ]; then
		WEBHOST_SIM_STRIPE_ADDR="${WEBHOST_SIM_STRIPE_ADDR:-127.0.0.1:12111}"
		"$stripe_mock" -http-addr "$WEBHOST_SIM_STRIPE_ADDR" >/dev/null 2>&1 &
		pids+=($!)
		export WEBHOST_SIM_STRIPE_URL="http://$WEBHOST_SIM_STRIPE_ADDR"
		for _ in $(seq 1 100); do
			curl -fsS -u sk_test_sandbox: "$WEBHOST_SIM_STRIPE_URL/v1/balance" >/dev/null 2>&1 && break
			sleep 0.1
		done
		echo "sandbox mode: no STRIPE_SECRET_KEY; Stripe API simulated by stripe-mock at $WEBHOST_SIM_STRIPE_URL"
	else
		echo "sandbox mode: no STRIPE_SECRET_KEY and no stripe-mock (go install github.com/stripe/stripe-mock@latest); checkout disabled"
	fi
fi
