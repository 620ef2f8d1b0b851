#!/usr/bin/env bash
# Regenerate the Go code of the runner RPC contract (internal/rpc/runnerpb)
# with Debian's protoc (package protobuf-compiler) and pinned Go plugins,
# installed into ./bin. `make proto` runs this; the result is committed, and
# running it again on a clean tree must leave no diff.
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_GEN_GO=google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
PROTOC_GEN_GO_GRPC=google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.0
BIN="$PWD/bin"

command -v protoc >/dev/null || { echo "genproto: protoc not found; apt-get install protobuf-compiler" >&2; exit 1; }
mkdir -p "$BIN"
GOBIN="$BIN" go install "$PROTOC_GEN_GO"
GOBIN="$BIN" go install "$PROTOC_GEN_GO_GRPC"

PATH="$BIN:$PATH" protoc \
	--proto_path=internal/rpc/runnerpb \
	--go_out=internal/rpc/runnerpb --go_opt=paths=source_relative \
	--go-grpc_out=internal/rpc/runnerpb --go-grpc_opt=paths=source_relative \
	runner.proto
echo "genproto: $(protoc --version), $("$BIN/protoc-gen-go" --version), $("$BIN/protoc-gen-go-grpc" --version)"
