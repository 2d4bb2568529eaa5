# Waymark — run `make help` for the targets.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
# templ is pinned in go.mod (`tool github.com/a-h/templ/cmd/templ`, v0.3.1100):
# generated *_templ.go files must match the runtime version, and are committed.
TEMPL   := $(GO) tool templ
STATICCHECK_VERSION := v0.8.2
BENCH_TIME ?= 1s

.DEFAULT_GOAL := help

.PHONY: help
help: ## show this help
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

.PHONY: run
run: ## serve Waymark at http://127.0.0.1:8080 (embedded SQLite + in-process Redis, data in ./data)
	$(GO) run ./cmd/waymark serve

.PHONY: build
build: ## build a static binary into bin/waymark
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/waymark ./cmd/waymark

.PHONY: test
test: ## run every test (service-backed tests skip without WAYMARK_TEST_* URLs, and fail under CI=true)
	$(GO) test -count=1 -timeout 15m ./...

.PHONY: bench
bench: ## run the benchmark suite (PostgreSQL + Redis from WAYMARK_BENCH_* or WAYMARK_TEST_*, and embedded); writes docs/benchmarks.md, .svg, scaling.md's numbers
	$(GO) run ./internal/benchsuite $(BENCH_FLAGS)

.PHONY: bench-quick
bench-quick: ## check the benchmark suite itself: tiny sizes, a few minutes, writes to a temp dir (waymark-bench)
	$(GO) run ./internal/benchsuite -quick $(BENCH_FLAGS)

.PHONY: bench-flow
bench-flow: ## the end-to-end flow benchmark only (webhook → condition → send_webhook, both modes + baseline), merged into docs/benchmarks.md; BENCH_FLAGS="-flow-profile DIR" adds CPU profiles
	$(GO) run ./internal/benchsuite -only flow -merge $(BENCH_FLAGS)

.PHONY: bench-broadcast
bench-broadcast: ## a broadcast to BENCH_PROFILES (default 100000) profiles through the sandbox, embedded SQLite + in-process Redis: time to done, peak RSS (docs/broadcasts.md)
	WAYMARK_TEST_REDIS_URL= WAYMARK_BENCH_PROFILES=$(or $(BENCH_PROFILES),100000) $(GO) test ./worker -run '^$$' -bench '^BenchmarkBroadcast$$' -benchtime 1x -timeout 60m

.PHONY: bench-go
bench-go: ## every Go benchmark in every package, plain go test -bench (BENCH_TIME=3s for steadier numbers)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCH_TIME) ./...

.PHONY: generate
generate: ## regenerate templ components (pinned version) and generated docs
	$(TEMPL) generate -path ui
	$(GO) test ./flows -run 'TestReferenceDoc' -update >/dev/null
	$(GO) test ./connectors/builtin -run 'TestConnectorsDoc' -update >/dev/null

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, and a check that generated files are current
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (echo "gofmt needed on:"; gofmt -l $$(git ls-files '*.go'); exit 1)
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(TEMPL) generate -path ui >/dev/null 2>&1
	@git diff --exit-code -- '*_templ.go' || (echo "templ output is stale: run 'make generate' and commit"; exit 1)

.PHONY: clean
clean: ## remove build output (keeps ./data)
	rm -rf bin
