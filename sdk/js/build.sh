#!/usr/bin/env bash
# Builds the JavaScript SDK's WebAssembly core (the crate in wasm/) for Node (pkg/node)
# and for browsers and bundlers (pkg/web); `--check` rebuilds and compares with what is
# committed (CI). Needs what sdk/build-wasm.sh says.
set -euo pipefail
exec "$(dirname "$0")/../build-wasm.sh" "$@" chancery-js nodejs:sdk/js/pkg/node web:sdk/js/pkg/web
