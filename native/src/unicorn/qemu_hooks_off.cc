/*
 * The Unicorn addon without the libunicorn interposers: what
 * native/CMakeLists.txt builds instead of qemu_hooks.cc for any libunicorn
 * but 2.0.1, whose internal functions those interposers replace with 2.0.1's
 * own signatures (see qemu_hooks.h). Nothing of libunicorn is replaced here:
 * the engine runs on its plain API, slower where 2.0.x sends every store
 * through its slow path, and with a fault reported at the start of its
 * translated block. CheckQemuHooks says so, once, on stderr.
 */
#include <cstdio>

#include "qemu_hooks.h"

#ifndef ZEROVM_UNICORN_BUILT_FOR
#define ZEROVM_UNICORN_BUILT_FOR "unknown version"
#endif

namespace zvm_uc {

const HookStatus &CheckQemuHooks() {
  static const HookStatus status = [] {
    HookStatus s;
    s.detail = std::string("built without the libunicorn interposers, which are for libunicorn 2.0.1 only (this build found ") +
               ZEROVM_UNICORN_BUILT_FOR + ")";
    fprintf(stderr, "zerovm: unicorn engine: %s (it runs on without fast stores and precise fault addresses)\n", s.detail.c_str());
    return s;
  }();
  return status;
}

/* Nothing reads the running session: there is no interposer. */
void SetRunning(GuestAccess *) {}

/* No TLB entry was marked dirty behind libunicorn's back, so none needs dropping. */
void FlushTlb(const GuestAccess &) {}

/* Unmaps flush the TLB page by page, as libunicorn does. */
BatchedUnmap::BatchedUnmap(const GuestAccess &) {}
BatchedUnmap::~BatchedUnmap() {}

}  // namespace zvm_uc
