#!/usr/bin/env bash
# Type-checks example projects against the PACKED package, as a user installs it:
#   npm run build → npm pack → the tarball unpacked as node_modules/secure-etcd of a temp copy of each
#   example, its other dependencies (@pulumi/*, @types/node) linked from this checkout's node_modules
#   (no registry needed) → tsc --noEmit -p <copy>.
# Usage: scripts/check-example.sh [EXAMPLE_DIR...]   (default: examples/cluster)
#   CHECK_EXAMPLE_NO_BUILD=1 packs the existing bin/ without rebuilding.
# Exit 0 when every example compiles; 1 when one does not (tsc's errors are printed under its name).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
examples=("$@")
[ ${#examples[@]} -gt 0 ] || examples=("$root/examples/cluster")

work="$(mktemp -d "${TMPDIR:-/tmp}/secure-etcd-check-example.XXXXXX")"
trap 'rm -rf "$work"' EXIT

cd "$root"
[ "${CHECK_EXAMPLE_NO_BUILD:-}" = 1 ] || npm run --silent build >/dev/null
tgz="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
mkdir -p "$work/package-unpacked"
tar xzf "$work/$tgz" -C "$work/package-unpacked"

status=0
for example in "${examples[@]}"; do
  name="$(basename "$example")"
  copy="$work/examples/$name"
  mkdir -p "$copy/node_modules"
  # The example's own files only (never a node_modules or build output it may have locally).
  tar -C "$example" --exclude=node_modules --exclude=bin -cf - . | tar -C "$copy" -xf -
  cp -R "$work/package-unpacked/package" "$copy/node_modules/secure-etcd"
  for dep in "$root"/node_modules/* "$root"/node_modules/.bin; do
    base="$(basename "$dep")"
    [ -e "$copy/node_modules/$base" ] || ln -s "$dep" "$copy/node_modules/$base"
  done
  if out="$("$root/node_modules/.bin/tsc" --noEmit -p "$copy" 2>&1)"; then
    echo "== $name: ok (type-checked against $tgz)"
  else
    echo "== $name: FAILED to type-check against $tgz"
    echo "$out"
    status=1
  fi
done
exit "$status"
