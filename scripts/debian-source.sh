#!/usr/bin/env bash
# Downloads a Debian source package's upstream tarball into a cache and
# prints its path: `scripts/debian-source.sh PACKAGE CACHE_DIR`.
#
# Used by tests that build real third-party projects with `zerovm cc`
# (test/toolchain/autoconf.test.ts): their sources come from Debian at test
# time and are never committed. The machine's own apt configuration is left
# alone: a private sources list (deb-src for the machine's release), package
# lists and cache live under CACHE_DIR/apt. A tarball already in CACHE_DIR
# is printed without any download.
set -euo pipefail
package="$1"
cache="$2"
mkdir -p "$cache"
found() { ls "$cache"/"${package}"_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n 1; }
if [ -n "$(found)" ]; then found; exit 0; fi

codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -z "$codename" ]; then echo "debian-source.sh: no VERSION_CODENAME in /etc/os-release: not a Debian release" >&2; exit 1; fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
apt="$cache/apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/download"
echo "deb-src [signed-by=$keyring] http://deb.debian.org/debian $codename main" > "$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt/lists"
  -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)")
apt-get "${opts[@]}" -qq update >&2
(cd "$apt/download" && apt-get "${opts[@]}" -qq --download-only source "$package" >&2)
mv "$apt/download"/"${package}"_*.orig.tar.* "$cache"/
rm -rf "$apt"
found
