/*
 * The interposed libunicorn internals and their start-up check (see
 * qemu_hooks.h for what and why).
 *
 * Signatures are QEMU 5.0.1's, as built into Unicorn 2.0.x for an x86-64
 * guest (target_ulong = abi_ptr = uint64_t, TCGMemOpIdx = uint32_t), and
 * were checked against the disassembly of Debian's libunicorn.so.2:
 *   void tlb_set_page_with_attrs(CPUState *, target_ulong vaddr, hwaddr paddr,
 *                                MemTxAttrs, int prot, int mmu_idx, target_ulong size);
 *   void tlb_set_dirty(CPUState *, target_ulong vaddr);
 *   void tlb_flush(CPUState *);
 *   bool cpu_restore_state(CPUState *, uintptr_t host_pc, bool will_exit);
 *   void cpu_loop_exit(CPUState *);  (longjmps back to the CPU loop)
 *   tcg_target_ulong helper_{ret_ldub,le_lduw,le_ldul,le_ldq}_mmu(env, addr, oi, retaddr);
 *   void helper_{ret_stb,le_stw,le_stl,le_stq}_mmu(env, addr, val, oi, retaddr);
 *   uint32_t/int/uint64_t cpu_ld{ub,sb,uw,sw,l,q}_mmuidx_ra(env, addr, mmu_idx, retaddr);
 *   void cpu_st{b,w,l,q}_mmuidx_ra(env, addr, val, mmu_idx, retaddr);
 * The helper_* functions are what generated code calls on a TLB miss (through
 * the TCG backend's helper tables, which libunicorn fills with relocations
 * against these exported names); the cpu_*_mmuidx_ra ones are what target
 * helpers (fxsave, x87 80-bit loads, cmpxchg16b, ...) call through the PLT.
 * MemTxAttrs is a 4-byte struct of bit-fields, passed in a register like the
 * uint32_t wrapper used here.
 */
#include "qemu_hooks.h"

#include <dlfcn.h>
#include <string.h>
#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#define ZVM_INTERPOSE extern "C" __attribute__((visibility("default")))

/* native/CMakeLists.txt compiles this file for libunicorn 2.0.1 alone; a
 * header of another version here means the build found two libunicorns. */
static_assert(UC_API_MAJOR == 2 && UC_API_MINOR == 0 && UC_API_PATCH == 1,
              "qemu_hooks.cc replaces internals of libunicorn 2.0.1 only: build qemu_hooks_off.cc for any other version");

namespace zvm_uc {
namespace {

constexpr uint64_t kSandboxSize = uint64_t{1} << 32;
constexpr int kPageShift = 16;
constexpr int kRead = 1, kWrite = 2, kExec = 4;
/* QEMU's PAGE_WRITE bit in tlb_set_page's prot. */
constexpr int kQemuPageWrite = 2;

struct MemTxAttrs {
  uint32_t bits;
};

using TlbSetPageFn = void (*)(void *, uint64_t, uint64_t, MemTxAttrs, int, int, uint64_t);
using TlbSetDirtyFn = void (*)(void *, uint64_t);
using TlbFlushFn = void (*)(void *);
using TlbFlushPageFn = void (*)(void *, uint64_t);
using RestoreStateFn = bool (*)(void *, uintptr_t, bool);
using LoopExitFn = void (*)(void *);
using HelperLoadFn = uint64_t (*)(void *, uint64_t, uint32_t, uintptr_t);
using HelperStoreBFn = void (*)(void *, uint64_t, uint8_t, uint32_t, uintptr_t);
using HelperStoreWFn = void (*)(void *, uint64_t, uint16_t, uint32_t, uintptr_t);
using HelperStoreLFn = void (*)(void *, uint64_t, uint32_t, uint32_t, uintptr_t);
using HelperStoreQFn = void (*)(void *, uint64_t, uint64_t, uint32_t, uintptr_t);
using LoadU32Fn = uint32_t (*)(void *, uint64_t, int, uintptr_t);
using LoadS32Fn = int (*)(void *, uint64_t, int, uintptr_t);
using LoadU64Fn = uint64_t (*)(void *, uint64_t, int, uintptr_t);
using StoreU32Fn = void (*)(void *, uint64_t, uint32_t, int, uintptr_t);
using StoreU64Fn = void (*)(void *, uint64_t, uint64_t, int, uintptr_t);

/* The real functions, in libunicorn. */
struct Real {
  TlbSetPageFn tlb_set_page = nullptr;
  TlbSetDirtyFn tlb_set_dirty = nullptr;
  TlbFlushFn tlb_flush = nullptr;
  TlbFlushPageFn tlb_flush_page = nullptr;
  RestoreStateFn restore_state = nullptr;
  LoopExitFn loop_exit = nullptr;
  HelperLoadFn ldub = nullptr, lduw = nullptr, ldul = nullptr, ldq = nullptr;
  HelperStoreBFn stb = nullptr;
  HelperStoreWFn stw = nullptr;
  HelperStoreLFn stl = nullptr;
  HelperStoreQFn stq = nullptr;
  LoadU32Fn ldub_ra = nullptr, lduw_ra = nullptr, ldl_ra = nullptr;
  LoadS32Fn ldsb_ra = nullptr, ldsw_ra = nullptr;
  LoadU64Fn ldq_ra = nullptr;
  StoreU32Fn stb_ra = nullptr, stw_ra = nullptr, stl_ra = nullptr;
  StoreU64Fn stq_ra = nullptr;
  /* Names of required symbols that are missing. */
  std::string missing;
};

template <typename Fn>
void Find(void *library, const char *name, Fn *out, std::string *missing) {
  *out = reinterpret_cast<Fn>(dlsym(library, name));
  if (*out == nullptr) *missing += std::string(missing->empty() ? "" : ", ") + name;
}

/* Looks the real definitions up in libunicorn itself (found through the
 * address of uc_open), never in this addon. Resolved once, on first use. */
const Real &Resolved() {
  static const Real real = [] {
    Real r;
    void *library = nullptr;
    Dl_info info;
    if (dladdr(reinterpret_cast<void *>(&uc_open), &info) != 0 && info.dli_fname != nullptr) {
      library = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    }
    /* Else the next definition after this addon's, which is libunicorn's too. */
    if (library == nullptr) library = RTLD_NEXT;
    Find(library, "tlb_set_page_with_attrs_x86_64", &r.tlb_set_page, &r.missing);
    Find(library, "tlb_set_dirty_x86_64", &r.tlb_set_dirty, &r.missing);
    Find(library, "tlb_flush_x86_64", &r.tlb_flush, &r.missing);
    Find(library, "tlb_flush_page_x86_64", &r.tlb_flush_page, &r.missing);
    Find(library, "cpu_restore_state_x86_64", &r.restore_state, &r.missing);
    Find(library, "cpu_loop_exit_x86_64", &r.loop_exit, &r.missing);
    Find(library, "helper_ret_ldub_mmu_x86_64", &r.ldub, &r.missing);
    Find(library, "helper_le_lduw_mmu_x86_64", &r.lduw, &r.missing);
    Find(library, "helper_le_ldul_mmu_x86_64", &r.ldul, &r.missing);
    Find(library, "helper_le_ldq_mmu_x86_64", &r.ldq, &r.missing);
    Find(library, "helper_ret_stb_mmu_x86_64", &r.stb, &r.missing);
    Find(library, "helper_le_stw_mmu_x86_64", &r.stw, &r.missing);
    Find(library, "helper_le_stl_mmu_x86_64", &r.stl, &r.missing);
    Find(library, "helper_le_stq_mmu_x86_64", &r.stq, &r.missing);
    Find(library, "cpu_ldub_mmuidx_ra_x86_64", &r.ldub_ra, &r.missing);
    Find(library, "cpu_ldsb_mmuidx_ra_x86_64", &r.ldsb_ra, &r.missing);
    Find(library, "cpu_lduw_mmuidx_ra_x86_64", &r.lduw_ra, &r.missing);
    Find(library, "cpu_ldsw_mmuidx_ra_x86_64", &r.ldsw_ra, &r.missing);
    Find(library, "cpu_ldl_mmuidx_ra_x86_64", &r.ldl_ra, &r.missing);
    Find(library, "cpu_ldq_mmuidx_ra_x86_64", &r.ldq_ra, &r.missing);
    Find(library, "cpu_stb_mmuidx_ra_x86_64", &r.stb_ra, &r.missing);
    Find(library, "cpu_stw_mmuidx_ra_x86_64", &r.stw_ra, &r.missing);
    Find(library, "cpu_stl_mmuidx_ra_x86_64", &r.stl_ra, &r.missing);
    Find(library, "cpu_stq_mmuidx_ra_x86_64", &r.stq_ra, &r.missing);
    /* The handle keeps a reference, which is what we want: libunicorn stays. */
    return r;
  }();
  return real;
}

/* Resolved() once it is known (an interposer runs often; a plain load is cheaper than the guard). */
const Real *g_real = nullptr;
inline const Real &R() { return g_real != nullptr ? *g_real : Resolved(); }

/* Switched on by CheckQemuHooks after the self-test; read on every call. */
bool g_fast_stores = false;
bool g_precise_faults = false;

/* The default (dynamic) TLS model on purpose: an initial-exec variable would
 * take static TLS space and shift the native addon's %fs offsets, which it
 * writes into the trampoline (so into the memory etag) when it loads after
 * this addon. */
thread_local GuestAccess *t_guest = nullptr;

/* Set by CheckQemuHooks when the interposers are in effect. */
bool g_interposed = false;

/* The CPU whose per-page TLB flushes a BatchedUnmap on this thread defers
 * (null: none), and whether one was deferred. */
thread_local void *t_batch_cpu = nullptr;
thread_local bool t_batch_pending = false;

/* Whether the program may make this access (a view of the engine's page map). */
inline bool Allowed(const GuestAccess &guest, uint64_t address, unsigned size, int need) {
  const uint64_t offset = address - guest.base;
  if (offset >= kSandboxSize || kSandboxSize - offset < size) return false;
  return (guest.pages[offset >> kPageShift] & need) != 0 &&
         (guest.pages[(offset + size - 1) >> kPageShift] & need) != 0;
}

/*
 * Before a load or store: if it is going to fault, point %rip at the
 * instruction making it, as QEMU itself does for the faults it raises, and
 * return the CPU, which AfterAccess then takes out of the translated code.
 * (The real helper records the fault, but on some paths, e.g. fxsave's
 * stores, returns instead of leaving, and the rest of the block would run.)
 */
inline void *BeforeAccess(uint64_t address, unsigned size, int need, uintptr_t host_pc) {
  GuestAccess *guest = t_guest;
  if (guest == nullptr || !g_precise_faults || guest->cpu == nullptr) return nullptr;
  if (Allowed(*guest, address, size, need)) return nullptr;
  if (host_pc != 0) R().restore_state(guest->cpu, host_pc, true);
  return guest->cpu;
}

inline void *BeforeStore(uint64_t address, unsigned size, uintptr_t host_pc) {
  if (t_guest != nullptr) t_guest->store_helper_calls++;
  return BeforeAccess(address, size, kWrite, host_pc);
}

/* After the real helper, for an access that faulted: no further guest
 * instruction may run. */
inline void AfterAccess(void *faulting_cpu) {
  if (faulting_cpu != nullptr) R().loop_exit(faulting_cpu);
}

}  // namespace
}  // namespace zvm_uc

/* --- the interposers (exported under libunicorn's own names) ---------------- */

using zvm_uc::AfterAccess;
using zvm_uc::BeforeAccess;
using zvm_uc::BeforeStore;
using zvm_uc::GuestAccess;
using zvm_uc::kExec;
using zvm_uc::kRead;
using zvm_uc::MemTxAttrs;
using zvm_uc::R;

ZVM_INTERPOSE void tlb_set_page_with_attrs_x86_64(void *cpu, uint64_t vaddr, uint64_t paddr, MemTxAttrs attrs,
                                                   int prot, int mmu_idx, uint64_t size) {
  R().tlb_set_page(cpu, vaddr, paddr, attrs, prot, mmu_idx, size);
  GuestAccess *guest = zvm_uc::t_guest;
  if (guest == nullptr) return;
  guest->fills++;
  guest->cpu = cpu;
  if (!zvm_uc::g_fast_stores || (prot & zvm_uc::kQemuPageWrite) == 0) return;
  const uint64_t offset = vaddr - guest->base;
  if (offset >= zvm_uc::kSandboxSize) return;
  const uint8_t page = guest->pages[offset >> zvm_uc::kPageShift];
  /* Never code: writable and not executable (a 64 KiB page holds whole
   * 4 KiB QEMU pages, so `size` cannot reach past it). */
  if ((page & zvm_uc::kWrite) != 0 && (page & kExec) == 0) R().tlb_set_dirty(cpu, vaddr);
}


/* Called by libunicorn's memory_unmap for every 4 KiB page it drops (its
 * only caller through the PLT): deferred to one full flush inside a
 * BatchedUnmap. */
ZVM_INTERPOSE void tlb_flush_page_x86_64(void *cpu, uint64_t addr) {
  if (cpu != nullptr && cpu == zvm_uc::t_batch_cpu) {
    zvm_uc::t_batch_pending = true;
    return;
  }
  R().tlb_flush_page(cpu, addr);
}

ZVM_INTERPOSE uint64_t helper_ret_ldub_mmu_x86_64(void *env, uint64_t addr, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 1, kRead | kExec, ra);
  const uint64_t value = R().ldub(env, addr, oi, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint64_t helper_le_lduw_mmu_x86_64(void *env, uint64_t addr, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 2, kRead | kExec, ra);
  const uint64_t value = R().lduw(env, addr, oi, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint64_t helper_le_ldul_mmu_x86_64(void *env, uint64_t addr, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 4, kRead | kExec, ra);
  const uint64_t value = R().ldul(env, addr, oi, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint64_t helper_le_ldq_mmu_x86_64(void *env, uint64_t addr, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 8, kRead | kExec, ra);
  const uint64_t value = R().ldq(env, addr, oi, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint32_t cpu_ldub_mmuidx_ra_x86_64(void *env, uint64_t addr, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 1, kRead | kExec, ra);
  const uint32_t value = R().ldub_ra(env, addr, mmu_idx, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE int cpu_ldsb_mmuidx_ra_x86_64(void *env, uint64_t addr, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 1, kRead | kExec, ra);
  const int value = R().ldsb_ra(env, addr, mmu_idx, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint32_t cpu_lduw_mmuidx_ra_x86_64(void *env, uint64_t addr, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 2, kRead | kExec, ra);
  const uint32_t value = R().lduw_ra(env, addr, mmu_idx, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE int cpu_ldsw_mmuidx_ra_x86_64(void *env, uint64_t addr, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 2, kRead | kExec, ra);
  const int value = R().ldsw_ra(env, addr, mmu_idx, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint32_t cpu_ldl_mmuidx_ra_x86_64(void *env, uint64_t addr, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 4, kRead | kExec, ra);
  const uint32_t value = R().ldl_ra(env, addr, mmu_idx, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE uint64_t cpu_ldq_mmuidx_ra_x86_64(void *env, uint64_t addr, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeAccess(addr, 8, kRead | kExec, ra);
  const uint64_t value = R().ldq_ra(env, addr, mmu_idx, ra);
  AfterAccess(fault);
  return value;
}

ZVM_INTERPOSE void helper_ret_stb_mmu_x86_64(void *env, uint64_t addr, uint8_t val, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeStore(addr, 1, ra);
  R().stb(env, addr, val, oi, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void helper_le_stw_mmu_x86_64(void *env, uint64_t addr, uint16_t val, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeStore(addr, 2, ra);
  R().stw(env, addr, val, oi, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void helper_le_stl_mmu_x86_64(void *env, uint64_t addr, uint32_t val, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeStore(addr, 4, ra);
  R().stl(env, addr, val, oi, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void helper_le_stq_mmu_x86_64(void *env, uint64_t addr, uint64_t val, uint32_t oi, uintptr_t ra) {
  void *fault = BeforeStore(addr, 8, ra);
  R().stq(env, addr, val, oi, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void cpu_stb_mmuidx_ra_x86_64(void *env, uint64_t addr, uint32_t val, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeStore(addr, 1, ra);
  R().stb_ra(env, addr, val, mmu_idx, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void cpu_stw_mmuidx_ra_x86_64(void *env, uint64_t addr, uint32_t val, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeStore(addr, 2, ra);
  R().stw_ra(env, addr, val, mmu_idx, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void cpu_stl_mmuidx_ra_x86_64(void *env, uint64_t addr, uint32_t val, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeStore(addr, 4, ra);
  R().stl_ra(env, addr, val, mmu_idx, ra);
  AfterAccess(fault);
}

ZVM_INTERPOSE void cpu_stq_mmuidx_ra_x86_64(void *env, uint64_t addr, uint64_t val, int mmu_idx, uintptr_t ra) {
  void *fault = BeforeStore(addr, 8, ra);
  R().stq_ra(env, addr, val, mmu_idx, ra);
  AfterAccess(fault);
}

namespace zvm_uc {
namespace {

constexpr uint64_t kTestBase = 0x440000000000;
constexpr uint64_t kTestCode = 0x20000, kTestData = 0x30000, kTestSize = 0x10000;
constexpr unsigned kTestStores = 100;

/*
 * 20000: mov $100,%ecx
 * 20005: mov %ecx,0x30000(%r15)     100 stores to one writable page
 * 2000c: dec %ecx
 * 2000e: jnz 20005
 * 20010: nop
 * 20011: mov 0x50000(%r15),%eax     an unmapped read: must stop at 0x20011
 */
const uint8_t kTestProgram[] = {
    0xb9, 0x64, 0x00, 0x00, 0x00,              //
    0x41, 0x89, 0x8f, 0x00, 0x00, 0x03, 0x00,  //
    0xff, 0xc9,                                //
    0x75, 0xf5,                                //
    0x90,                                      //
    0x41, 0x8b, 0x87, 0x00, 0x00, 0x05, 0x00,  //
    0xf4,
};
constexpr uint64_t kTestFaultPc = 0x20011;

struct TestResult {
  std::string error;
  unsigned fills = 0;
  unsigned store_helper_calls = 0;
  bool precise = false;
};

TestResult RunSelfTest() {
  TestResult result;
  void *memory = mmap(nullptr, 2 * kTestSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    result.error = "mmap failed";
    return result;
  }
  auto *code = static_cast<uint8_t *>(memory);
  memset(code, 0xf4, kTestSize);
  memcpy(code, kTestProgram, sizeof kTestProgram);
  std::vector<uint8_t> pages(kSandboxSize >> kPageShift, 0);
  pages[kTestCode >> kPageShift] = kRead | kExec;
  pages[kTestData >> kPageShift] = kRead | kWrite;
  GuestAccess guest;
  guest.base = kTestBase;
  guest.pages = pages.data();

  uc_engine *uc = nullptr;
  uc_err err = uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
  if (err == UC_ERR_OK) err = uc_mem_map_ptr(uc, kTestBase + kTestCode, kTestSize, UC_PROT_READ | UC_PROT_EXEC, code);
  if (err == UC_ERR_OK) err = uc_mem_map_ptr(uc, kTestBase + kTestData, kTestSize, UC_PROT_READ | UC_PROT_WRITE, code + kTestSize);
  uint64_t r15 = kTestBase, rip = 0;
  if (err == UC_ERR_OK) err = uc_reg_write(uc, UC_X86_REG_R15, &r15);
  if (err == UC_ERR_OK) {
    SetRunning(&guest);
    const uc_err run = uc_emu_start(uc, kTestBase + kTestCode, 0, 0, 0);
    SetRunning(nullptr);
    result.fills = guest.fills;
    result.store_helper_calls = guest.store_helper_calls;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    result.precise = run == UC_ERR_READ_UNMAPPED && rip == kTestBase + kTestFaultPc;
    uint32_t stored = 0;
    memcpy(&stored, code + kTestSize, sizeof stored);
    if (run != UC_ERR_READ_UNMAPPED || stored != 1) {
      result.error = std::string("the self-test program ended with ") + uc_strerror(run);
    }
  } else {
    result.error = uc_strerror(err);
  }
  if (uc != nullptr) uc_close(uc);
  munmap(memory, 2 * kTestSize);
  return result;
}

HookStatus Check() {
  HookStatus status;
  const bool slow_stores_asked = getenv("ZEROVM_UNICORN_SLOW_STORES") != nullptr &&
                                 strcmp(getenv("ZEROVM_UNICORN_SLOW_STORES"), "0") != 0;
  /* uc_version's value: major, minor, patch, extra (255: a release), a byte each */
  unsigned major = 0, minor = 0;
  const unsigned loaded = uc_version(&major, &minor);
  const unsigned built = (UC_API_MAJOR << 24) | (UC_API_MINOR << 16) | (UC_API_PATCH << 8) | UC_API_EXTRA;
  if (loaded != built) {
    status.detail = "the loaded libunicorn is " + std::to_string(loaded >> 24) + "." + std::to_string((loaded >> 16) & 0xff) + "." +
                    std::to_string((loaded >> 8) & 0xff) +
                    ", not the 2.0.1 these repairs were built for (rebuild with npm run build:native)";
    return status;
  }
  const Real &real = Resolved();
  g_real = &real;
  if (!real.missing.empty()) {
    status.detail = "libunicorn lacks internal symbols the repairs need (" + real.missing + ")";
    return status;
  }
  /* Tentatively on, so that the self-test exercises them. */
  g_fast_stores = true;
  g_precise_faults = true;
  const TestResult test = RunSelfTest();
  g_fast_stores = false;
  g_precise_faults = false;
  if (!test.error.empty()) {
    status.detail = "the self-test failed: " + test.error;
    return status;
  }
  if (test.fills == 0) {
    status.detail = "libunicorn's internal functions could not be interposed (it binds them directly on this system)";
    return status;
  }
  status.interposers = true;
  status.precise_faults = test.precise;
  /* The first store takes the slow path to fill the TLB; the rest must not. */
  status.fast_stores = test.store_helper_calls <= 2 && !slow_stores_asked;
  if (!status.precise_faults) status.detail = "fault addresses are the start of a translated block (cpu_restore_state had no effect)";
  if (!status.fast_stores && !slow_stores_asked) {
    status.detail += std::string(status.detail.empty() ? "" : "; ") + "guest stores stay on QEMU's slow path (" +
                     std::to_string(test.store_helper_calls) + " of " + std::to_string(kTestStores) + " test stores)";
  }
  g_fast_stores = status.fast_stores;
  g_precise_faults = status.precise_faults;
  g_interposed = true;
  return status;
}

}  // namespace

const HookStatus &CheckQemuHooks() {
  static const HookStatus status = [] {
    HookStatus s = Check();
    if (!s.detail.empty()) {
      fprintf(stderr, "zerovm: unicorn engine: %s (it runs on without %s)\n", s.detail.c_str(),
              s.fast_stores ? "precise fault addresses" : s.precise_faults ? "fast stores" : "fast stores and precise fault addresses");
    }
    return s;
  }();
  return status;
}

void SetRunning(GuestAccess *guest) { t_guest = guest; }

void FlushTlb(const GuestAccess &guest) {
  if (guest.cpu != nullptr && R().tlb_flush != nullptr) R().tlb_flush(guest.cpu);
}

BatchedUnmap::BatchedUnmap(const GuestAccess &guest) {
  /* Without the CPU (no TLB fill seen yet) there is nothing to flush later, so nothing is deferred. */
  if (!g_interposed || guest.cpu == nullptr || t_batch_cpu != nullptr) return;
  cpu_ = guest.cpu;
  t_batch_cpu = cpu_;
  t_batch_pending = false;
}

BatchedUnmap::~BatchedUnmap() {
  if (cpu_ == nullptr) return;
  t_batch_cpu = nullptr;
  if (t_batch_pending) R().tlb_flush(cpu_);
  t_batch_pending = false;
}

}  // namespace zvm_uc
