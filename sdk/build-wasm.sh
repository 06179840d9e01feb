#!/usr/bin/env bash
# Builds one of the SDKs' WebAssembly crates and its wasm-bindgen glue into committed
# folders, or with --check rebuilds and compares with what is committed.
#   sdk/build-wasm.sh [--check] CRATE TARGET:DIR[:no-types] ...
# TARGET is a wasm-bindgen target (no-modules, nodejs, web); DIR is relative to the
# repository root.
#
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli at exactly the version of
# the wasm-bindgen crate in Cargo.lock:
#   rustup target add wasm32-unknown-unknown
#   cargo install wasm-bindgen-cli --version 0.2.108 --locked
# The same sources give the same bytes: paths are remapped out of the build and the
# `wasm` profile builds in one unit with LTO.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
crate=$1; shift
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
(cd "$root" && cargo build -p "$crate" --target wasm32-unknown-unknown --profile wasm --locked)
wasm="$target_dir/wasm32-unknown-unknown/wasm/${crate//-/_}.wasm"
for spec in "$@"; do
  IFS=: read -r target dir types <<<"$spec"
  committed="$root/$dir"
  out=$committed
  if $check; then out=$(mktemp -d); fi
  mkdir -p "$out"
  flags=()
  if [ "${types:-}" = "no-types" ]; then flags+=(--no-typescript); fi
  wasm-bindgen --target "$target" "${flags[@]}" --out-dir "$out" "$wasm"
  if $check; then
    for f in "$out"/*; do
      name=$(basename "$f")
      if ! cmp -s "$f" "$committed/$name"; then
        echo "$dir/$name differs from a rebuild of the sources: run the build script and commit the result" >&2
        exit 1
      fi
    done
    echo "$dir: the committed WebAssembly and glue are what the sources build"
    rm -rf "$out"
  fi
done
