#!/usr/bin/env bash
# Installs what Chancery needs on Debian 12, as root or as a user with sudo:
#   ./setup.sh           to build and run it (RocksDB, clang for its bindings, the CJK
#                        font of the PDF reports)
#   ./setup.sh --tests   and to run the whole test suite too (network namespaces,
#                        Chromium for the verification page, PDF tools, Node.js with
#                        the browser driver, JDK 17 for the Java example)
# Rust itself comes from rustup. CI (.ci/run) runs `./setup.sh --tests`.
set -euo pipefail
cd "$(dirname "$0")"

tests=false
case "${1:-}" in
  --tests) tests=true ;;
  "") ;;
  *) echo "usage: ./setup.sh [--tests]" >&2; exit 2 ;;
esac

if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed: install it with rustup, then run ./setup.sh again" >&2
  exit 1
fi

packages=(librocksdb-dev libclang-dev clang fonts-noto-cjk)
if $tests; then
  packages+=(iproute2 iptables chromium poppler-utils qpdf curl)
fi
need=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# The Python SDK (sdk/python, a workspace member) builds against a Python 3.9+ interpreter.
command -v python3 >/dev/null 2>&1 || need+=(python3)
if $tests; then
  # Its tests build it into a virtual environment.
  python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
  # Node.js may come with its own npm from another package than Debian's, which would
  # conflict with Debian's npm: only a machine without npm gets Debian's.
  command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
  command -v java >/dev/null 2>&1 || need+=(openjdk-17-jdk-headless)
fi
if [ "${#need[@]}" -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "installing ${need[*]} needs root: run ./setup.sh as root" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${need[@]}"
fi
if $tests; then
  # The browser driver (playwright-core, pinned by tests/browser/package-lock.json).
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
  # The JavaScript SDK's test dependencies (ws, TypeScript; sdk/js/package-lock.json).
  npm ci --prefix sdk/js --no-audit --no-fund --loglevel=error
fi
echo "ready: cargo run -p chancery-cli -- dev (a dev chain), cargo test --workspace --locked (the suite)"
