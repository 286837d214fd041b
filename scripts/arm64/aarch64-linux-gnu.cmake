# CMake toolchain file: cross-build the addon for arm64 Linux on an x86-64
# Debian host (scripts/arm64/build.sh passes it to cmake-js).
#
# It relies on Debian multiarch rather than a separate sysroot: the cross
# compiler is g++-aarch64-linux-gnu, and arm64 libraries (libunicorn-dev:arm64,
# libstdc++6:arm64) install beside the host's under /usr/lib/aarch64-linux-gnu,
# with headers shared in /usr/include. So the only thing to steer is which
# library directory and which pkg-config files are searched.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# Host programs (ninja, pkg-config) come from the host; libraries only from
# the arm64 multiarch directories, never the x86-64 ones.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

# pkg-config would otherwise answer with the x86-64 unicorn.pc (its libdir
# is /usr/lib/x86_64-linux-gnu); point it at arm64's files alone.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
