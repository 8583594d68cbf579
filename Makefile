# WebHost developer entry points. See README.md.
SHELL := /bin/bash
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
# Packages that share state across goroutines run under the race detector.
RACE_PKGS ?= ./eventstore/... ./commands/... ./secrets/... ./projections/... ./httpapi/... ./processes/... ./sync/... ./providers/...

.PHONY: run test test-go test-race test-node lint bench build tools

build:
	$(GO) build -o bin/webhost ./cmd/webhost

## run: start the platform locally in sandbox mode (simulated clouds, local PostgreSQL)
run: build
	./scripts/run.sh

## test: every test (Go, race, Node)
test: test-go test-race test-node

test-go:
	$(GO) test -count=1 -timeout 20m ./...

test-race:
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list $(RACE_PKGS) 2>/dev/null)

test-node:
	./scripts/test-node.sh

## lint: gofmt, go vet, staticcheck
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@command -v staticcheck >/dev/null 2>&1 || PATH="$(GOBIN):$$PATH" command -v staticcheck >/dev/null || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	PATH="$(GOBIN):$$PATH" staticcheck ./...

## bench: run the benchmarks and print each figure next to its baseline
bench:
	./scripts/bench.sh

tools:
	$(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
