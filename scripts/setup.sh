#!/usr/bin/env bash
# Installs what secure-etcd's rehearsal and tests need on a fresh Debian machine:
# npm packages from the lock file, and (when missing) Debian's etcd 3.4, awscli, shellcheck and cloud-init (its schema check and write_files module test the node bootstrap).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v aws >/dev/null 2>&1 || need+=(awscli)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v cloud-init >/dev/null 2>&1 || need+=(cloud-init)
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian package starts a default etcd on 127.0.0.1:2379; the rehearsal needs those ports free.
  if command -v systemctl >/dev/null 2>&1; then $sudo_cmd systemctl disable --now etcd >/dev/null 2>&1 || true; fi
  pkill -x etcd >/dev/null 2>&1 || true
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: ready (etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), node $(node --version))"
