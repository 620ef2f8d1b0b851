# narwhal — the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
STACK := scripts/teststack.sh

.PHONY: all build run test test-unit stack bench fuzz proto vet fmt clean lint-template build-AgentFunction sam-local

all: build

build: ## build the narwhal CLI into bin/ (scripts/build.sh shows progress while a first build compiles)
	GO=$(GO) scripts/build.sh $(BIN)/narwhal ./cmd/narwhal '$(LDFLAGS)'

run: build ## the main job: `narwhal dev --demo` sends examples/hello through webhook, queue, dispatcher, runner, logs and status
	@$(STACK) docker || echo "make run: Docker is not available; narwhal dev falls back to the host executor"
	$(BIN)/narwhal dev --demo --addr 127.0.0.1:0 --dir .narwhal/make-run

stack: ## install (when root) and start what the tests talk to: dockerd, test image, RabbitMQ, moto_server
	$(STACK) up

test: stack vet lint-template ## every test, against the real services started by `make stack`
	eval "$$($(STACK) env)" && $(GO) test -count=1 -timeout 15m ./...

test-unit: ## the tests that need no services (the rest skip with a message; CI=true makes them fail)
	$(GO) test -count=1 ./...

bench: build stack ## the benchmarks the issues name, as one table (see scripts/bench.sh)
	eval "$$($(STACK) env)" && scripts/bench.sh

fuzz: ## run each fuzz target for a while (FUZZTIME=30s)
	$(GO) test -run XXX -fuzz FuzzParse -fuzztime $${FUZZTIME:-30s} ./internal/pipeline
	$(GO) test -run XXX -fuzz FuzzParseEvent -fuzztime $${FUZZTIME:-30s} ./internal/github

proto: ## regenerate internal/rpc/runnerpb from runner.proto (Debian protobuf-compiler + pinned plugins in bin/)
	scripts/genproto.sh

lint-template: ## check the SAM template (cfn-lint comes with the machine's Python)
	cfn-lint template.yaml

# Lambda binaries, for `sam build` (BuildMethod: makefile): provided.al2023, no RPC shim, for the
# template's Architecture parameter as ARCHITECTURE says (arm64 unless set; mk/packaging.mk).
# LAMBDA_TAGS: grpcnotrace keeps golang.org/x/net/trace out, and with it text/template, whose
# reflective method calls stop the linker from dropping unused methods (8.0 → 5.5 MB zipped, issue 15).
LAMBDA_GOFLAGS = CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH)
LAMBDA_TAGS := lambda.norpc,grpcnotrace
build-AgentFunction:
	$(LAMBDA_GOFLAGS) $(GO) build -tags $(LAMBDA_TAGS) -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./functions/agent

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) build

# Packaging, local stacks and runner installation: rie, mqbridge, install-runnerd, dist-runnerd,
# build-DispatcherFunction, localstack-up, sam-local (see docs/deploy.md, localstack/README.md).
include mk/packaging.mk
