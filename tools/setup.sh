#!/usr/bin/env bash
# Installs everything the builds and tests need, idempotently and quickly when already done:
#   - Debian packages (patchelf and ccache for Nuitka, zip tools), via apt-get when missing;
#   - the project venv .venv with the pinned Python tools (moto, cfn-lint, checkov, Nuitka), every
#     file hash-checked against tools/requirements.lock (tools/pip-install-locked.sh).
# Usage: tools/setup.sh            install what is missing
#        tools/setup.sh --relock   resolve tools/requirements.txt into tools/requirements.lock and each
#                                  examples/monitors/*/requirements.in into its requirements.txt, with
#                                  the sha256 of every file PyPI has for each pinned version (so the
#                                  locks hold on x86_64 and aarch64 alike); pins already in a lock are
#                                  kept unless its input changed (delete a lock to resolve it afresh)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

APT_PACKAGES=(patchelf ccache zip unzip)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: not root; run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Python version is fixed in core/versions.ts (NUITKA_PYTHON_VERSION): the venv runs the Nuitka builds.
want=$(sed -n "s/^export const NUITKA_PYTHON_VERSION = '\([0-9.]*\)';/\1/p" core/versions.ts)
python=""
for candidate in "python$want" python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))"; then
    python=$(command -v "$candidate")
    break
  fi
done
[ -n "$python" ] || { echo "setup: Python $want is required (NUITKA_PYTHON_VERSION in core/versions.ts)" >&2; exit 1; }

# The locking tool itself, pinned (it runs only on --relock, in a throwaway venv).
PIP_TOOLS_VERSION=7.6.2
if [ "${1:-}" = "--relock" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  "$python" -m venv "$tmp/venv"
  "$tmp/venv/bin/pip" install -q --disable-pip-version-check "pip-tools==$PIP_TOOLS_VERSION" >&2
  # --no-build-isolation: reading Nuitka's sdist metadata uses that venv's setuptools, fetches none.
  compile() {
    CUSTOM_COMPILE_COMMAND='tools/setup.sh --relock' "$tmp/venv/bin/pip-compile" -q \
      --generate-hashes --allow-unsafe --strip-extras --no-build-isolation \
      --no-emit-index-url --no-emit-find-links --output-file "$2" "$1" >&2
    echo "setup: wrote $2" >&2
  }
  compile tools/requirements.txt tools/requirements.lock
  for input in examples/monitors/*/requirements.in; do
    compile "$input" "${input%.in}.txt"
  done
fi

stamp=$( { cat tools/requirements.lock tools/pip-install-locked.sh; "$python" --version; } | sha256sum | cut -c1-16)
if [ "$(cat .venv/.watchy-stamp 2>/dev/null)" != "$stamp" ]; then
  echo "setup: creating .venv with the pinned Python tools (tools/requirements.lock, hash-checked)" >&2
  rm -rf .venv
  "$python" -m venv .venv
  bash tools/pip-install-locked.sh .venv >&2
  echo "$stamp" > .venv/.watchy-stamp
fi
