#!/usr/bin/env bash
# Regenerates the Go code of every .proto in pkg/api/keysmith/v1 (docs/server.md).
# Needs protoc (Debian: protobuf-compiler), protoc-gen-go and protoc-gen-connect-go:
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
#   go install connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1
# Usage: scripts/genproto.sh [OUTDIR]   (default: the repository; the staleness
# test passes a temporary directory and compares)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
mkdir -p "$out"
PATH="$(go env GOPATH)/bin:$PATH"
protoc -I pkg/api \
  --go_out="$out" --go_opt=module=github.com/keysmith/keysmith \
  --connect-go_out="$out" --connect-go_opt=module=github.com/keysmith/keysmith \
  pkg/api/keysmith/v1/*.proto
