#!/usr/bin/env bash
# Builds the verification page's WebAssembly and its JavaScript glue from this crate
# into sdk/court/page/pkg/ (or the folder given), where the page takes them from.
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli at exactly the version of
# the wasm-bindgen crate in Cargo.lock:
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version 0.2.108 --locked
# The same sources give the same bytes: paths are remapped out of the build, the
# `wasm` profile builds in one unit with LTO, and CI rebuilds and compares
# (`build.sh --check`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
committed="$root/sdk/court/page/pkg"
check=false
out="$committed"
case "${1:-}" in
  --check) check=true; out=$(mktemp -d) ;;
  "") ;;
  *) out="$1" ;;
esac
want=$(grep -A1 '^name = "wasm-bindgen"$' "$root/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" != "$want" ]; then
  echo "wasm-bindgen-cli $want is needed (found: ${have:-none}): cargo install wasm-bindgen-cli --version $want --locked" >&2
  exit 1
fi
target_dir=${CARGO_TARGET_DIR:-$root/target}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustc_sysroot=$(rustc --print sysroot)
# Only the WebAssembly target gets these flags (with --target, build scripts and proc
# macros are built without them), so the host build cache is untouched.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=$root=/chancery --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$rustc_sysroot=/rust"
(cd "$root" && cargo build -p chancery-court-wasm --target wasm32-unknown-unknown --profile wasm --locked)
mkdir -p "$out"
wasm-bindgen --target no-modules --no-typescript --out-dir "$out" \
  "$target_dir/wasm32-unknown-unknown/wasm/chancery_court_wasm.wasm"
if $check; then
  for f in chancery_court_wasm.js chancery_court_wasm_bg.wasm; do
    if ! cmp -s "$out/$f" "$committed/$f"; then
      echo "sdk/court/page/pkg/$f differs from a rebuild of the sources: run sdk/court-wasm/build.sh and commit the result" >&2
      exit 1
    fi
  done
  echo "the committed verifier WebAssembly is what the sources build ($(stat -c %s "$committed/chancery_court_wasm_bg.wasm") bytes)"
  rm -rf "$out"
fi
