# Packaging and local stacks (docs/deploy.md, localstack/README.md): the Lambda
# runtime interface emulator, the dispatcher's Lambda build, the MQ bridge, and
# runnerd's systemd install and tarball. Included by the Makefile; also usable
# alone: make -f mk/packaging.mk <target>.
GO ?= go
BIN ?= $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

# The emulator `sam local invoke` runs, pinned (internal/lambdatest uses the same).
RIE_PKG := github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d

# runnerd builds: RUNNERD_BUILD is where the binary goes, DESTDIR a staging root.
# RUNNERD_ENV and RUNNERD_GOFLAGS make a static, path-free binary; the install
# test empties them to reuse the build cache of `go build ./...`.
RUNNERD_BUILD ?= $(CURDIR)/build/runnerd
RUNNERD_ENV ?= CGO_ENABLED=0
RUNNERD_GOFLAGS ?= -trimpath
DESTDIR ?=
DIST_GOARCH ?= amd64
DIST_DIR ?= $(CURDIR)/build/dist

.PHONY: rie mqbridge install-runnerd dist-runnerd lint-infra localstack-up localstack-down build-DispatcherFunction sam-local

# The Lambda architecture: the value of template.yaml's Architecture parameter (arm64 or
# x86_64). `sam build` passes its parameters to make not at all, only the environment, so
# `sam build --parameter-overrides Architecture=x86_64` needs ARCHITECTURE=x86_64 beside it
# (`make sam-local` sets both). LAMBDA_GOARCH is Go's name for it; any other value stops make.
ARCHITECTURE := $(or $(ARCHITECTURE),arm64)
LAMBDA_GOARCH = $(or $(LAMBDA_GOARCH_$(ARCHITECTURE)),$(error ARCHITECTURE must be arm64 or x86_64 (template.yaml's Architecture), not "$(ARCHITECTURE)"))
LAMBDA_GOARCH_arm64 := arm64
LAMBDA_GOARCH_x86_64 := amd64

# `sam build` (BuildMethod: makefile) runs this in the repository with ARTIFACTS_DIR set; like
# build-AgentFunction: provided.al2023, for ARCHITECTURE, LAMBDA_TAGS.
build-DispatcherFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build -tags $(LAMBDA_TAGS) -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./functions/dispatcher

rie: ## install the Lambda runtime interface emulator into bin/ (pinned version)
	@$(GO) version -m $(BIN)/aws-lambda-rie 2>/dev/null | grep -q '$(RIE_VERSION)' || \
		GOBIN=$(BIN) CGO_ENABLED=0 $(GO) install $(RIE_PKG)@$(RIE_VERSION)

mqbridge: ## build the RabbitMQ → Lambda bridge into bin/
	$(GO) build -o $(BIN)/mqbridge ./cmd/mqbridge

install-runnerd: ## build runnerd and install it as a systemd service (DESTDIR=... stages into a root)
	$(RUNNERD_ENV) $(GO) build $(RUNNERD_GOFLAGS) -ldflags '-X main.version=$(VERSION)' -o $(RUNNERD_BUILD)/runnerd ./runnerd
	DESTDIR='$(DESTDIR)' infra/install-runnerd.sh $(RUNNERD_BUILD)/runnerd

dist-runnerd: ## tarball for runner hosts (infra/runner-host.yaml): runnerd, narwhal, unit, example config, installer
	rm -rf $(DIST_DIR)/runnerd && mkdir -p $(DIST_DIR)/runnerd
	CGO_ENABLED=0 GOOS=linux GOARCH=$(DIST_GOARCH) $(GO) build -trimpath -ldflags '-X main.version=$(VERSION)' -o $(DIST_DIR)/runnerd/runnerd ./runnerd
	CGO_ENABLED=0 GOOS=linux GOARCH=$(DIST_GOARCH) $(GO) build -trimpath -ldflags '-X main.version=$(VERSION)' -o $(DIST_DIR)/runnerd/narwhal ./cmd/narwhal
	cp infra/install-runnerd.sh infra/runnerd.service infra/runnerd.example.yaml $(DIST_DIR)/runnerd/
	tar -C $(DIST_DIR)/runnerd -czf $(DIST_DIR)/runnerd-linux-$(DIST_GOARCH).tar.gz .
	@echo "upload: aws s3 cp $(DIST_DIR)/runnerd-linux-$(DIST_GOARCH).tar.gz s3://<ArtifactBucket>/narwhal/"

lint-infra: ## check the runner host CloudFormation template
	cfn-lint infra/runner-host.yaml

localstack-up: ## start LocalStack and RabbitMQ (Docker Compose), the init hook creates table, bucket, secrets
	docker compose -f localstack/docker-compose.yml up -d --wait

localstack-down:
	docker compose -f localstack/docker-compose.yml down -v

sam-local: ## sam build + sam local invoke of every events/ sample against the LocalStack stack, answers checked (needs sam; SAM_OPTIONAL=1: only say so when missing)
	scripts/sam-local.sh
