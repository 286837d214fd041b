/*
 * Two repairs made inside Debian's libunicorn 2.0.1 (QEMU 5.0.1 within) by
 * interposing some of its internal functions, which it calls through its
 * PLT and its TCG helper tables (it is not linked -Bsymbolic, so a
 * definition that precedes it in symbol lookup wins; this addon precedes it
 * in its own dlopen group):
 *
 * 1. Fast stores (spec/runtime.md, "The Unicorn engine"). Unicorn 2.0.1
 *    tags every writable TLB entry TLB_NOTDIRTY, so every guest store takes
 *    QEMU's self-modifying-code slow path (~30x slower). Our
 *    tlb_set_page_with_attrs_x86_64 calls the real one, then
 *    tlb_set_dirty_x86_64 for pages the session has writable and not
 *    executable (never code: ZeroVM never maps a page W+X), which is what
 *    upstream's fix (2.1.0, d0103576) does. Safe because translated blocks
 *    of a range are dropped whenever it gains or loses EXEC, and the TLB is
 *    flushed whenever a page loses WRITE (emulator.cc, Protect).
 *
 * 2. Precise fault addresses. On an unmapped or protected data access,
 *    Unicorn 2.0.1 leaves the guest %rip at the start of the translated block
 *    (it exits the CPU loop without restoring state), where the native
 *    engine reports the faulting instruction. Our wrappers around the softmmu
 *    load/store helpers check the access against the session's page map
 *    first and, when it is going to fault, restore %rip from the host return
 *    address (cpu_restore_state_x86_64) before calling the real helper, and
 *    leave the translated block after it (cpu_loop_exit_x86_64): on some
 *    paths (stores made by helpers such as fxsave's) the real helper records
 *    the fault but returns, and the rest of the block would run, stores and
 *    all, where the native engine has stopped.
 *
 * They are compiled only for libunicorn 2.0.1 (native/CMakeLists.txt, by its
 * pkg-config version or its header's; any other version builds
 * qemu_hooks_off.cc, which repairs nothing), since the functions they replace
 * are internal and their signatures change between releases.
 *
 * Everything is verified once per process (CheckQemuHooks): that the loaded
 * library is 2.0.1 as well (it may have been upgraded after the build: then
 * rebuild), that the internal symbols exist, and a small emulation proving
 * both repairs took effect (stores stay on the fast path; a fault reports the
 * right instruction). Otherwise the interposers only forward, and one
 * warning on stderr says what is lost. The interposers are only ever active
 * for x86-64 guests (the _x86_64 suffix) and on the thread that runs a
 * session (SetRunning).
 *
 * 3. Batched unmaps. libunicorn 2.0.1 drops the TLB entries of an unmapped
 *    range one 4 KiB page at a time (tlb_flush_page_x86_64, which also
 *    clears part of the jump cache each time): about 6 ms to unmap a
 *    hello program's 64 MiB. Inside a BatchedUnmap those per-page flushes
 *    are deferred to one full TLB flush (tlb_flush_x86_64, which clears the
 *    jump cache too) before any guest code runs again.
 *
 * ZEROVM_UNICORN_SLOW_STORES=1 turns repair 1 off (to measure it).
 */
#ifndef ZEROVM_UNICORN_QEMU_HOOKS_H
#define ZEROVM_UNICORN_QEMU_HOOKS_H

#include <cstdint>
#include <string>

namespace zvm_uc {

/* What the interposers need to know about the session a thread emulates. */
struct GuestAccess {
  /* Guest address of sandbox address 0. */
  uint64_t base = 0;
  /* Protection (engine.ts bits) of each 64 KiB sandbox page. */
  const uint8_t *pages = nullptr;
  /* QEMU's CPUState of this session's engine, learned from its first TLB fill. */
  void *cpu = nullptr;
  /* For the start-up self-test: TLB fills and slow-path stores seen. */
  unsigned fills = 0;
  unsigned store_helper_calls = 0;
};

struct HookStatus {
  /* The interposers are built in (native/CMakeLists.txt builds them for
   * libunicorn 2.0.1 alone, else qemu_hooks_off.cc) and in effect: the
   * loaded library is 2.0.1 too, has the internal symbols, and the
   * self-test saw them called. */
  bool interposers = false;
  bool fast_stores = false;
  bool precise_faults = false;
  /* Empty when both are on; else why not. */
  std::string detail;
};

/* Verifies the interposition once per process; prints one warning on stderr
 * when a repair is off for a reason the user can act on. */
const HookStatus &CheckQemuHooks();

/* The session the calling thread emulates from now on (null: none). */
void SetRunning(GuestAccess *guest);

/* Drops every TLB entry of `guest`'s engine (after a page loses WRITE, so no
 * entry marked dirty by repair 1 outlives the permission). */
void FlushTlb(const GuestAccess &guest);

/* While one lives on this thread, unmapping pages of `guest`'s engine defers
 * its per-page TLB flushes to one full flush when it ends (repair 3). Does
 * nothing without the interposers: the unmaps then flush page by page. */
class BatchedUnmap {
 public:
  explicit BatchedUnmap(const GuestAccess &guest);
  ~BatchedUnmap();
  BatchedUnmap(const BatchedUnmap &) = delete;
  BatchedUnmap &operator=(const BatchedUnmap &) = delete;

 private:
  void *cpu_ = nullptr;
};

}  // namespace zvm_uc

#endif
