#!/usr/bin/env bash
# Installs what secure-etcd's rehearsal and tests need on a fresh Debian machine:
# npm packages from the lock file; (when missing) Debian's etcd 3.4, awscli, shellcheck, cloud-init (its
# schema check and write_files module test the node bootstrap) and openssh-client (ssh-keygen
# cross-checks the emulated OpenSSH keys); the upstream binaries built from their Go modules (etcd
# 3.5/3.6/3.7, kube-apiserver and kubectl, etcd's benchmark tool: scripts/build-upstream.mjs, cached
# outside the clone); and the Python virtualenv with moto and parliament (upstream/python/requirements.txt).
# Idempotent: with everything installed it only checks, and runs `npm ci` when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
# Debian's AWS CLI v2 even beside another aws on PATH: the node bootstrap is tested with both.
[ -x /usr/bin/aws ] || need+=(awscli)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v go >/dev/null 2>&1 || need+=(golang-go)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

# Debian's etcd-server package starts a default etcd on 127.0.0.1:2379 when installed, and the rehearsal
# needs those ports. Debian's own switch keeps a package's service from starting at install time:
# /usr/sbin/policy-rc.d exiting 101 ("action forbidden"). We add one only if there is none, and only
# for this install; a policy the machine already has is left as it is.
policy=/usr/sbin/policy-rc.d
our_policy=""
remove_our_policy() {
  if [ -n "$our_policy" ]; then
    $sudo_cmd rm -f "$policy"
    our_policy=""
  fi
}
trap remove_our_policy EXIT

if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# secure-etcd scripts/setup.sh: no service starts while it installs packages\nexit 101\n' |
      $sudo_cmd tee "$policy" >/dev/null
    $sudo_cmd chmod 755 "$policy"
    our_policy=1
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  remove_our_policy
  # Where systemd runs, the unit we just installed must not start at boot either: disable it by unit
  # name (and stop it, should an existing policy have let it start). Other etcds are not ours to stop.
  if [[ " ${need[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
    $sudo_cmd systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Upstream binaries: built once per machine (a fresh machine: about 25 minutes on 2 cores, with progress).
node scripts/build-upstream.mjs

# moto and parliament in a virtualenv keyed by the requirements file's hash (the harness computes the same).
cache="${SECURE_ETCD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/secure-etcd}"
venv="$cache/venv-$(sha256sum upstream/python/requirements.txt | cut -c1-12)"
if [ ! -f "$venv/.complete" ]; then
  echo "setup: creating the Python virtualenv (moto, parliament) in $venv — about 1 min"
  # Made in place (a venv's scripts name its path); .complete marks a finished install.
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r upstream/python/requirements.txt
  touch "$venv/.complete"
fi
echo "setup: ready (etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}') + built $(node -e 'console.log(require("./upstream/binaries.json").builds.map(b=>b.id+" "+b.version).join(", "))'), node $(node --version))"
