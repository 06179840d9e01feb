#!/usr/bin/env bash
# Builds the verification page's WebAssembly and its JavaScript glue from this crate
# into sdk/court/page/pkg/ (glue for a classic script: the page inlines both), where the
# page takes them from; `--check` rebuilds and compares with what is committed (CI).
# Needs what sdk/build-wasm.sh says.
set -euo pipefail
exec "$(dirname "$0")/../build-wasm.sh" "$@" chancery-court-wasm no-modules:sdk/court/page/pkg:no-types
