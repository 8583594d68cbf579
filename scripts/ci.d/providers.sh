#!/usr/bin/env bash
# Installs stripe-mock, the Stripe API peer of providers/stripe's acceptance
# tests (idempotent: skipped when already on PATH or in GOPATH/bin).
set -euo pipefail
export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v stripe-mock >/dev/null 2>&1; then
	go install github.com/stripe/stripe-mock@v0.203.0 || go install github.com/stripe/stripe-mock@latest
fi
command -v stripe-mock
