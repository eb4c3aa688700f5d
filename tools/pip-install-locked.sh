#!/usr/bin/env bash
# Installs packages of a hashed lock file (pip-compile --generate-hashes) into a venv, hash-checked:
# every file pip fetches must match one of the sha256 values the lock lists for it (--require-hashes).
# Only wheels are installed, except the sdists named in LOCK_SDISTS (Nuitka publishes none), which
# are built with the lock's own setuptools and wheel, installed first (--no-build-isolation and
# --check-build-dependencies): no unpinned build dependency is ever fetched or run.
#
# Usage: tools/pip-install-locked.sh VENV [NAME...]
#   VENV   an existing venv (python -m venv VENV)
#   NAME   install only these entries of the lock (each must be in it); none: the whole lock
# Environment: WATCHY_LOCK_FILE (default tools/requirements.lock beside this script).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
lock=${WATCHY_LOCK_FILE:-$here/requirements.lock}
LOCK_SDISTS=nuitka
BUILD_BACKEND=(setuptools wheel)

[ $# -ge 1 ] || { echo "pip-install-locked: usage: $0 VENV [NAME...]" >&2; exit 2; }
venv=$1
shift
[ -x "$venv/bin/python" ] || { echo "pip-install-locked: $venv is not a venv (no $venv/bin/python)" >&2; exit 1; }
[ -f "$lock" ] || { echo "pip-install-locked: no lock file $lock" >&2; exit 1; }

# Prints the lock's entries (requirement line and its --hash lines) of the given names; fails with
# one line when a name is not in the lock or an entry has no hash.
entries() {
  awk -v names="$*" -v lock="$lock" '
    function norm(s) { s = tolower(s); gsub(/[-_.]+/, "-", s); return s }
    BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) want[norm(list[i])] = 1 }
    /^[^[:space:]]/ {
      take = 0
      if ($0 ~ /^[A-Za-z0-9]/) {
        name = $1; sub(/[=<>!~;[ ].*/, "", name); name = norm(name)
        if (name in want) { take = 1; found[name] = 1; current = name }
      }
    }
    take && $0 ~ /--hash=sha256:[0-9a-f][0-9a-f]*/ { hashed[current] = 1 }
    take && $0 !~ /^[[:space:]]*#/ && $0 !~ /^[[:space:]]*$/ { print }
    END {
      for (k in want) if (!(k in found)) { printf "pip-install-locked: %s is not in %s\n", k, lock > "/dev/stderr"; exit 1 }
      for (k in want) if (!(k in hashed)) { printf "pip-install-locked: %s has no sha256 in %s\n", k, lock > "/dev/stderr"; exit 1 }
    }' "$lock"
}

norm() { tr 'A-Z_.' 'a-z--' <<<"$1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pip=("$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes)

if [ $# -gt 0 ]; then
  entries "$@" > "$tmp/selected.txt"
  selected=$tmp/selected.txt
else
  # The whole lock; still refuse an entry without a hash (pip would, less clearly).
  unhashed=$(awk '/^[A-Za-z0-9]/ { if (name != "" && !hashed) print name; name = $1; hashed = 0 }
    /--hash=sha256:[0-9a-f][0-9a-f]*/ { hashed = 1 } END { if (name != "" && !hashed) print name }' "$lock")
  [ -z "$unhashed" ] || { echo "pip-install-locked: no sha256 for $(echo $unhashed) in $lock" >&2; exit 1; }
  selected=$lock
fi

# The build backend first, when an sdist is to be built (the whole lock, or a selection naming one).
needs_backend=0
if [ $# -eq 0 ]; then needs_backend=1; fi
for name in "$@"; do
  if [ "$(norm "$name")" = "$LOCK_SDISTS" ]; then needs_backend=1; fi
done
if [ "$needs_backend" = 1 ]; then
  entries "${BUILD_BACKEND[@]}" > "$tmp/backend.txt"
  "${pip[@]}" --no-deps --only-binary=:all: -r "$tmp/backend.txt"
fi
"${pip[@]}" --only-binary=:all: --no-binary="$LOCK_SDISTS" --no-build-isolation --check-build-dependencies -r "$selected"
