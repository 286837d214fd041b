/*
 * One Unicorn session (see emulator.h).
 *
 * Memory: guest address kBase + a is host address data() + a, mapped with
 * uc_mem_map_ptr region by region, so the runtime's ArrayBuffer views and
 * the emulator see the same bytes. Host pages get the region's protection
 * (execute-only becomes readable, as on x86 hardware); the emulator maps
 * exactly the accessible pages with their protection. Protect() unmaps the
 * mapped parts of the range and maps it again: Unicorn's unmap flushes the
 * TLB of every page it drops, and a changed permission must never be served
 * from a stale TLB entry. When a range gains or loses EXEC (TrapJail,
 * TrapUnjail) its translated blocks are dropped (uc_ctl_remove_cache), and
 * when a page loses WRITE the whole TLB is flushed once more (the fast-store
 * repair of qemu_hooks.h marks writable entries dirty; no such entry may
 * outlive the permission). W+X pages and a writable trampoline are refused,
 * as by the native engine.
 *
 * The trap: a UC_HOOK_CODE hook on the single guest address kBase + 0x10000
 * (Unicorn instruments only the instructions inside a hook's range, so no
 * other code pays for it). It does what the native trampoline's slot 0
 * does: reads the return address at (%rsp) (a %rsp whose 8 bytes are not
 * readable is a SIGSEGV at 0x10000, as there), records %rdi, %rsp + 8 and the
 * return address, and stops the emulation. The trampoline holds the same
 * bytes as natively (../trampoline.h); the hook runs before anything at
 * 0x10000 would execute.
 *
 * Faults, with the signals the native engine reports for the same program:
 *   unmapped or protected access (data or fetch)   SIGSEGV 11 at the instruction
 *   invalid opcode (#UD, ud2)                       SIGILL 4
 *   #DE (division by zero or overflow), #MF, #XM   SIGFPE 8
 *   #BP (int3), #DB (single step with TF)           SIGTRAP 5, pc after the instruction
 *   #AC                                             SIGBUS 7 (QEMU never raises it)
 *   other exceptions (#GP, #SS, #NP, int n, ...)    SIGSEGV 11
 * Exceptions are taken by a UC_HOOK_INTR hook, which stops the emulation.
 *
 * Privilege: the program runs at CPL 3, as natively. Unicorn starts the CPU
 * at CPL 0, where hlt halts instead of raising #GP, popf may clear IF, and
 * cli, sti, in and out work; so Open() drops to CPL 3 once, the way an
 * operating system does: an iretq to 64-bit user code and stack segments
 * of a GDT on a page outside the sandbox, which is unmapped afterwards (the
 * segment registers keep their cached descriptors).
 *
 * Registers on start and on every resume mirror native/src/switch.S exactly:
 *   rbx rbp r12-r14   0, rsp, 0, 0, 0 at start; kept across a trap
 *   r15               kBase
 *   rsp               kBase + 4 GiB - 56 at start; the trap's %rsp + 8 after it
 *   rax               0 at start; the int32 result sign-extended after a trap
 *   rcx, rip          kBase + pc
 *   rdi               the low 32 bits of rsp + 8, zero-extended
 *   rdx rsi r8-r11    0
 *   x87               as after fninit: FPCW 0x37F, FPSW 0, all tags empty,
 *                     last-instruction and last-operand pointers 0
 *   xmm0-15           0 (no ymm: the engine offers no AVX)
 *   rflags            0x246
 *   MXCSR             0x1F80 at start; the program's own across a trap
 * The resume address is sandboxed as ZeroVM did: the low 32 bits of the
 * return address, rounded down to a 32-byte bundle.
 *
 * Reuse. A libunicorn engine (Instance) serves one session after another
 * on its thread: a session takes one from its Node environment's pool, and
 * dispose() resets it (drops the translated blocks of every executable
 * page, unmaps every page the session mapped, flushes the TLB, restores
 * the CPU state saved right after the drop to CPL 3, leaves the watchdog)
 * and gives it back; one that cannot be reset is closed. Guest memory is
 * the instance's, made a fresh 4 GiB reservation again in place by the
 * reset (mmap MAP_FIXED over it), so nothing of one session's data reaches
 * the next; a session only the garbage collector ends (its ArrayBuffers may
 * still alias the memory, dispose() did not detach them) leaves the memory
 * to them, and the instance takes new memory. Why, measured with hello.nexe
 * through Program.runSync (2 000 sessions after 300; this 2-core machine,
 * shared, load about 14):
 *   engine per session (uc_open, hooks, CPL 3; uc_close on dispose):
 *     5.2-7.0 ms a session, RSS 1.2 GB after 2 300 sessions, growing by
 *     0.5 MB a session: glibc's malloc raises its mmap threshold after the
 *     first large free, so libunicorn's large per-engine allocations come
 *     from the heap, whose holes never go back (a fixed threshold,
 *     GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072, makes it flat;
 *     uc_open/uc_close alone, in C, loses 2-3 KB);
 *   reused engine: 3.8-4.0 ms a session, RSS flat at 92 MB.
 *   Before either (engine per session, and the runner freed only when V8
 *   collected its wrapper, which a loop of synchronous sessions never lets
 *   it do): 3.1 GB after 2 000 sessions, 1.5 MB a session.
 * Translated blocks an engine drops still take space in its translation
 * buffer until it is full (1 GiB); InstancePool closes an engine after
 * kSessionsPerInstance sessions so that space is returned. Unmapping
 * drops TLB entries page by page (6 ms for hello's 64 MiB), which repair 3
 * of qemu_hooks.h defers to one flush. ZEROVM_UNICORN_FRESH_ENGINE=1 opens
 * an engine per session again, to measure the difference. The soak test
 * (test/soak.test.ts) holds the result.
 *
 * Translated blocks kept (spec/runtime.md, "The Unicorn engine"). Most of
 * a warm request's time went to translating code its snapshot's earlier
 * requests had translated already (a Lua script request: 15 ms, about
 * three quarters of it tcg_gen_code and tcg_optimize). So a session that
 * reaches its warm point (LoadTrapContext) after being set up only by
 * Protect and MapImage of one memory image, with no guest memory handed
 * to JavaScript before (which could have written it), leaves its instance
 * Resident: the steps that set it up, the page protections they left.
 * Dispose then resets to that state instead of to nothing:
 *   - each page run re-protected since the warm point (`changed`: TrapJail,
 *     TrapUnjail) loses its translated blocks (the program may have written
 *     new code there between an unjail and a jail) and gets its resident
 *     protection back;
 *   - every resident writable page and every changed page is dropped
 *     (MADV_DONTNEED): a private page of the image's MAP_PRIVATE mapping
 *     then reads as the image again, one of the anonymous reservation as
 *     zero: what a fresh setup would give;
 *   - the TLB is flushed and the CPU state restored, as by Reset.
 * Nothing else can differ: a page never writable since the warm point was
 * written neither by the program (the emulator refuses) nor by the host
 * (views refuse), so its bytes are the image's and its blocks, found by
 * guest address and the RAM address of the unchanged mapping, are still
 * right. (Host writes bypass QEMU's code-page tracking, which uc_mem_write
 * would go through; hence only pages that cannot hold blocks are reverted
 * behind libunicorn's back.) The next session on a resident instance
 * defers its setup (`deferring_`): each Protect and MapImage is recorded
 * and, while the calls so far are the resident steps' first ones, applied
 * to nothing; at LoadTrapContext, the same steps in full adopt the
 * resident state. A step that differs first moves the session to another
 * idle instance whose resident steps begin with those so far (requests of
 * several snapshots on one thread), if there is one. Anything else (a
 * step no idle instance has, a Start, memory() asked for by JavaScript)
 * materializes the session: it moves to a clean instance of the pool (or
 * a new one while two can be kept idle, or the least recently used idle
 * one, reset), so the resident one waits for its next request; failing
 * that it resets this one fully; then it applies the recorded steps. The key is thus
 * the image's identity (a memfd's device and inode, unique while any
 * descriptor or mapping holds it; its bytes never change) plus the exact
 * setup calls, which fix the layout and protections; the registers come
 * from the trap context each time. test/warm-reuse.test.ts
 * compares requests run this way with each run on a fully reset engine.
 */
#include "emulator.h"

#include "../trampoline.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace zvm_uc {
namespace {

constexpr uint64_t kInitialStack = kSandboxSize - 56;
constexpr uint32_t kDefaultMxcsr = 0x1F80;
constexpr uint64_t kInitialFlags = 0x246;
constexpr uint8_t kHlt = 0xF4;
/* A deadline this close to the armed one is the same deadline. */
constexpr int64_t kSameDeadlineNs = 1000 * 1000;
/* Longest budget honoured (about 31 years); larger ones are clamped. */
constexpr double kMaxBudgetMs = 1e12;

constexpr uint64_t kCr0Ne = 1 << 5, kCr4OsFxsr = 1 << 9, kCr4OsXmmExcpt = 1 << 10;

constexpr int kSigTrap = 5, kSigBus = 7, kSigIll = 4, kSigFpe = 8, kSigSegv = 11;

std::string Errno(const char *what) { return std::string(what) + ": " + strerror(errno); }

std::string UcError(const char *what, uc_err err) { return std::string(what) + ": " + uc_strerror(err); }

int HostProtection(int protection) {
  int prot = PROT_NONE;
  if (protection & (kProtRead | kProtExec)) prot |= PROT_READ;
  if (protection & kProtWrite) prot |= PROT_WRITE;
  return prot;
}

/* Execute implies read, as on x86 hardware. */
uint32_t UcPerms(int protection) {
  uint32_t perms = UC_PROT_NONE;
  if (protection & (kProtRead | kProtExec)) perms |= UC_PROT_READ;
  if (protection & kProtWrite) perms |= UC_PROT_WRITE;
  if (protection & kProtExec) perms |= UC_PROT_EXEC;
  return perms;
}

/* The signal Linux delivers for an x86 exception vector in user mode. */
int SignalForVector(uint32_t vector) {
  switch (vector) {
    case 0:   // #DE divide error
    case 16:  // #MF x87 floating-point error
    case 19:  // #XM SIMD floating-point exception
      return kSigFpe;
    case 1:  // #DB (single step)
    case 3:  // #BP (int3)
      return kSigTrap;
    case 6:  // #UD
      return kSigIll;
    case 17:  // #AC alignment check
      return kSigBus;
    default:  // #GP, #SS, #NP, #TS, #PF, int n, ...
      return kSigSegv;
  }
}

}  // namespace

/* Unicorn's callbacks, with access to the session's private state. */
struct EmulatorHooks {
  static void Trap(uc_engine *uc, uint64_t, uint32_t, void *user) {
    Emulator *self = static_cast<Instance *>(user)->session;
    if (self == nullptr) {
      uc_emu_stop(uc);
      return;
    }
    int regs[] = {UC_X86_REG_RSP, UC_X86_REG_RDI};
    uint64_t rsp = 0, rdi = 0;
    void *values[] = {&rsp, &rdi};
    uc_reg_read_batch(uc, regs, values, 2);
    const uint64_t offset = rsp - kBase;
    if (!self->Readable(offset, 8)) {
      self->RecordFault(kSigSegv, kBase + kTrampolineStart);
    } else {
      memcpy(&self->trap_ret_, self->host() + offset, 8);
      self->trap_rsp_ = rsp + 8;
      self->trap_rdi_ = rdi;
      self->stop_kind_ = kStopTrap;
    }
    uc_emu_stop(uc);
  }

  static void Interrupt(uc_engine *uc, uint32_t vector, void *user) {
    Emulator *self = static_cast<Instance *>(user)->session;
    uint64_t rip = 0;
    uc_reg_read(uc, UC_X86_REG_RIP, &rip);
    if (self != nullptr) self->RecordFault(SignalForVector(vector), rip);
    uc_emu_stop(uc);
  }
};

/* --- HostMemory ------------------------------------------------------------ */

HostMemory::HostMemory() {
  void *got = mmap(nullptr, kSandboxSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (got == MAP_FAILED) {
    error_ = Errno("cannot reserve 4 GiB of address space for the sandbox (mmap)") +
             " (is the address space limited, e.g. by ulimit -v?)";
    return;
  }
  data_ = static_cast<uint8_t *>(got);
}

HostMemory::~HostMemory() { Release(); }

void HostMemory::Release() {
  if (data_ == nullptr) return;
  munmap(data_, kSandboxSize);
  data_ = nullptr;
}

std::string HostMemory::Renew() {
  if (data_ == nullptr) return "internal error: the sandbox memory is released";
  void *got = mmap(data_, kSandboxSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (got == MAP_FAILED) return Errno("cannot renew the sandbox's memory (mmap)");
  return "";
}

ImageFile::~ImageFile() {
  if (fd >= 0) close(fd);
}

/* --- Instance ------------------------------------------------------------- */

Instance::Instance() : pages(kSandboxSize / kPageSize, 0), hook_pages(kSandboxSize / kHookPageSize, 0) {
  guest.base = kBase;
  guest.pages = hook_pages.data();
}

Instance::~Instance() {
  if (watch != nullptr && watchdog != nullptr) watchdog->Remove(watch.get());
  if (initial_ != nullptr) uc_context_free(initial_);
  if (uc != nullptr) uc_close(uc);
}

std::unique_ptr<Instance> Instance::Open(std::string *error) {
  std::unique_ptr<Instance> instance(new Instance());
  *error = instance->Prepare();
  if (!error->empty()) return nullptr;
  return instance;
}

std::string Instance::Prepare() {
  uc_err err = uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
  if (err != UC_ERR_OK) {
    uc = nullptr;
    return UcError("uc_open", err);
  }
  uc_hook hook;
  err = uc_hook_add(uc, &hook, UC_HOOK_CODE, reinterpret_cast<void *>(&EmulatorHooks::Trap), this,
                    kBase + kTrampolineStart, kBase + kTrampolineStart);
  if (err != UC_ERR_OK) return UcError("uc_hook_add (trap)", err);
  err = uc_hook_add(uc, &hook, UC_HOOK_INTR, reinterpret_cast<void *>(&EmulatorHooks::Interrupt), this, 1, 0);
  if (err != UC_ERR_OK) return UcError("uc_hook_add (exceptions)", err);
  /* As Linux runs user programs: CR0.NE (an unmasked x87 exception is #MF
   * at the next x87 instruction), CR4.OSFXSR (fxsave/fxrstor include the SSE
   * state) and CR4.OSXMMEXCPT (unmasked SIMD exceptions are #XM, not #UD;
   * QEMU 5.0 raises neither, spec/runtime.md, Engines). */
  uint64_t cr0 = 0, cr4 = 0;
  err = uc_reg_read(uc, UC_X86_REG_CR0, &cr0);
  if (err == UC_ERR_OK) {
    cr0 |= kCr0Ne;
    err = uc_reg_write(uc, UC_X86_REG_CR0, &cr0);
  }
  if (err == UC_ERR_OK) err = uc_reg_read(uc, UC_X86_REG_CR4, &cr4);
  if (err == UC_ERR_OK) {
    cr4 |= kCr4OsFxsr | kCr4OsXmmExcpt;
    err = uc_reg_write(uc, UC_X86_REG_CR4, &cr4);
  }
  if (err != UC_ERR_OK) return UcError("CR0/CR4", err);
  std::string error = EnterUserMode();
  if (!error.empty()) return error;
  /* The whole CPU state at CPL 3, before any program ran: what Reset restores. */
  err = uc_context_alloc(uc, &initial_);
  if (err == UC_ERR_OK) err = uc_context_save(uc, initial_);
  if (err != UC_ERR_OK) return UcError("uc_context_save", err);
  watchdog = Watchdog::Instance(&error);
  if (watchdog == nullptr) return error;
  watch = std::make_unique<WatchdogEntry>(uc);
  return "";
}

std::string Instance::EnterUserMode() {
  /* The system page: iretq at +0, where it returns to (+0x10), the GDT
   * (null, kernel code and data, user data 0x1b, user code 0x23), the
   * iretq frame at the top. Guest address 0x1000 is far below the sandbox. */
  constexpr uint64_t kSystem = 0x1000, kSize = 0x1000, kTarget = kSystem + 0x10, kGdt = 0x100, kFrame = 0xf00;
  constexpr uint64_t kUserData = 0x1b, kUserCode = 0x23;
  const uint64_t gdt[] = {0, 0x00AF9B000000FFFF, 0x00CF93000000FFFF, 0x00CFF3000000FFFF, 0x00AFFB000000FFFF};
  const uint64_t frame[] = {kTarget, kUserCode, 0x202, kSystem + kFrame, kUserData};  // rip cs rflags rsp ss
  void *page = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return Errno("mmap");
  auto *bytes = static_cast<uint8_t *>(page);
  memset(bytes, kHlt, 0x100);
  bytes[0] = 0x48;  // iretq
  bytes[1] = 0xcf;
  memcpy(bytes + kGdt, gdt, sizeof gdt);
  memcpy(bytes + kFrame, frame, sizeof frame);
  uc_x86_mmr gdtr = {0, kSystem + kGdt, sizeof gdt - 1, 0};
  const uint64_t rsp = kSystem + kFrame;
  uint64_t cs = 0, ss = 0, rip = 0;
  uc_err err = uc_mem_map_ptr(uc, kSystem, kSize, UC_PROT_ALL, page);
  if (err == UC_ERR_OK) err = uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
  if (err == UC_ERR_OK) err = uc_reg_write(uc, UC_X86_REG_RSP, &rsp);
  if (err == UC_ERR_OK) err = uc_emu_start(uc, kSystem, kTarget, 0, 0);
  if (err == UC_ERR_OK) err = uc_reg_read(uc, UC_X86_REG_CS, &cs);
  if (err == UC_ERR_OK) err = uc_reg_read(uc, UC_X86_REG_SS, &ss);
  if (err == UC_ERR_OK) err = uc_reg_read(uc, UC_X86_REG_RIP, &rip);
  const uc_err unmapped = uc_mem_unmap(uc, kSystem, kSize);
  munmap(page, kSize);
  if (err != UC_ERR_OK) return UcError("entering CPL 3", err);
  if (unmapped != UC_ERR_OK) return UcError("entering CPL 3 (unmap)", unmapped);
  if (cs != kUserCode || ss != kUserData || rip != kTarget) return "internal error: the CPU did not reach CPL 3";
  return "";
}

void Instance::SummarizeHookPages(uint64_t first, uint64_t end) {
  constexpr uint64_t kPerHookPage = kHookPageSize / kPageSize;
  for (uint64_t hook = first / kPerHookPage; hook * kPerHookPage < end; hook++) {
    uint8_t any = 0;
    for (uint64_t page = hook * kPerHookPage; page < (hook + 1) * kPerHookPage; page++) any |= pages[page];
    hook_pages[hook] = any;
  }
}

std::string Instance::UnmapPages(uint64_t first, uint64_t end, bool *had_exec, bool *had_write) {
  for (uint64_t page = first; page < end;) {
    if (pages[page] == 0) {
      page++;
      continue;
    }
    /* A run of mapped pages: unmap it (it may span several mappings). */
    uint64_t last = page;
    while (last < end && pages[last] != 0) {
      if ((pages[last] & kProtExec) != 0) *had_exec = true;
      if ((pages[last] & kProtWrite) != 0) *had_write = true;
      last++;
    }
    const uc_err err = uc_mem_unmap(uc, kBase + page * kPageSize, (last - page) * kPageSize);
    if (err != UC_ERR_OK) return UcError("uc_mem_unmap", err);
    for (uint64_t p = page; p < last; p++) pages[p] = 0;
    page = last;
  }
  return "";
}

std::string Instance::DropBlocks(uint64_t first, uint64_t end, bool exec_only) {
  const auto wanted = [&](uint64_t page) { return exec_only ? (pages[page] & kProtExec) != 0 : pages[page] != 0; };
  for (uint64_t page = first; page < end;) {
    if (!wanted(page)) {
      page++;
      continue;
    }
    uint64_t last = page;
    while (last < end && wanted(last)) last++;
    const uc_err err = uc_ctl_remove_cache(uc, kBase + page * kPageSize, kBase + last * kPageSize);
    if (err != UC_ERR_OK) return UcError("uc_ctl_remove_cache", err);
    page = last;
  }
  return "";
}

std::string Instance::Apply(uint64_t address, uint64_t size, int protection, uint8_t *host) {
  const uint64_t first = address / kPageSize, end = (address + size) / kPageSize;
  bool exec_changed = false, write_lost = false;
  for (uint64_t page = first; page < end; page++) {
    const int old = pages[page];
    if (((old ^ protection) & kProtExec) != 0) exec_changed = true;
    if ((old & kProtWrite) != 0 && (protection & kProtWrite) == 0) write_lost = true;
  }
  /* Translated blocks are found through the mapping they were made from
   * (its RAM block): drop them before that mapping goes. */
  if (exec_changed) {
    std::string error = DropBlocks(first, end, true);
    if (!error.empty()) return error;
  }
  bool had_exec = false, had_write = false;
  {
    BatchedUnmap batch(guest);
    std::string error = UnmapPages(first, end, &had_exec, &had_write);
    if (!error.empty()) return error;
  }
  if (protection != 0) {
    const uc_err err = uc_mem_map_ptr(uc, kBase + address, size, UcPerms(protection), host + address);
    if (err != UC_ERR_OK) return UcError("uc_mem_map_ptr", err);
    /* Merged with the last run when adjacent: a session's protections mostly come in address order. */
    if (!touched.empty() && touched.back().second == first) touched.back().second = end;
    else touched.emplace_back(first, end);
  }
  for (uint64_t page = first; page < end; page++) pages[page] = static_cast<uint8_t>(protection);
  SummarizeHookPages(first, end);
  if (exec_changed && protection != 0) {
    const uc_err err = uc_ctl_remove_cache(uc, kBase + address, kBase + address + size);
    if (err != UC_ERR_OK) return UcError("uc_ctl_remove_cache", err);
  }
  if (write_lost) FlushTlb(guest);
  return "";
}

std::string Instance::Detach() {
  session = nullptr;
  if (watch != nullptr && watchdog != nullptr) watchdog->Remove(watch.get());
  if (watch != nullptr) {
    watch->running.store(false);
    watch->fired.store(false);
  }
  const uc_err err = uc_context_restore(uc, initial_);
  if (err != UC_ERR_OK) return UcError("uc_context_restore", err);
  return "";
}

std::string Instance::Reset(bool renew_memory) {
  {
    BatchedUnmap batch(guest);
    for (const auto &run : touched) {
      /* Translated blocks are found by guest address, and the next session
       * maps other code there: drop those of every executable page while it
       * is still mapped (Unicorn finds them through the mapping), then unmap.
       * Not UC_CTL_TB_FLUSH: in 2.0.1 it clears the whole 1 GiB translation
       * buffer, 50 ms a call (3.6 s the first time). */
      std::string error = DropBlocks(run.first, run.second, true);
      if (!error.empty()) return error;
      bool had_exec = false, had_write = false;
      error = UnmapPages(run.first, run.second, &had_exec, &had_write);
      if (!error.empty()) return error;
      SummarizeHookPages(run.first, run.second);
    }
  }
  touched.clear();
  resident.reset();
  changed.clear();
  spoiled = false;
  /* Unmapping dropped the TLB entries of its pages; this also drops any the
   * fast-store repair marked dirty elsewhere. */
  FlushTlb(guest);
  if (memory != nullptr) {
    if (renew_memory) {
      std::string error = memory->Renew();
      if (!error.empty()) return error;
    } else {
      memory.reset();
    }
  }
  return Detach();
}

std::string Instance::ResetToResident() {
  const Resident &r = *resident;
  uint8_t *host = memory->data();
  for (const auto &run : changed) {
    /* the engine's own pages are not the image's: a reset cannot give them back */
    if (zvm::TouchesTrampoline(run.first * kPageSize, (run.second - run.first) * kPageSize))
      return "the trampoline was re-protected";
  }
  {
    BatchedUnmap batch(guest);
    for (const auto &run : changed) {
      /* Blocks made on these pages since the warm point may be of bytes the
       * program wrote (TrapUnjail, write, TrapJail): none survives. */
      std::string error = DropBlocks(run.first, run.second, false);
      if (!error.empty()) return error;
      for (uint64_t page = run.first; page < run.second;) {
        uint64_t last = page;
        bool same = true;
        while (last < run.second && r.pages[last] == r.pages[page]) {
          if (pages[last] != r.pages[last]) same = false;
          last++;
        }
        if (!same) {
          const uint64_t address = page * kPageSize, size = (last - page) * kPageSize;
          if (mprotect(host + address, size, HostProtection(r.pages[page])) != 0) return Errno("mprotect");
          error = Apply(address, size, r.pages[page], host);
          if (!error.empty()) return error;
        }
        page = last;
      }
    }
  }
  /* What the program (or a trap on its behalf) may have written goes back
   * to the image: a private page of a file mapping, dropped, reads as the
   * file again. The rest cannot have changed (never writable since the
   * warm point). */
  using Runs = std::vector<std::pair<uint64_t, uint64_t>>;
  for (const Runs *runs : {&r.writable, static_cast<const Runs *>(&changed)}) {
    for (const auto &run : *runs) {
      if (madvise(host + run.first * kPageSize, (run.second - run.first) * kPageSize, MADV_DONTNEED) != 0)
        return Errno("madvise");
    }
  }
  changed.clear();
  touched = r.touched;
  FlushTlb(guest);
  return Detach();
}

/* --- InstancePool ------------------------------------------------------------ */

InstancePool::InstancePool() {
  const char *fresh = getenv("ZEROVM_UNICORN_FRESH_ENGINE");
  reuse_ = fresh == nullptr || strcmp(fresh, "1") != 0;
}

std::unique_ptr<Instance> InstancePool::Take(std::string *error) {
  if (idle_.empty()) return Instance::Open(error);
  /* One holding a warm session's state first: a session that turns out
   * not to be one of its requests moves to another (TakeClean). */
  size_t pick = idle_.size() - 1;
  for (size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->resident != nullptr) {
      pick = i;
      break;
    }
  }
  std::unique_ptr<Instance> instance = std::move(idle_[pick]);
  idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(pick));
  return instance;
}

std::unique_ptr<Instance> InstancePool::TakeClean(std::string *error) {
  for (size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->resident == nullptr) {
      std::unique_ptr<Instance> instance = std::move(idle_[i]);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      return instance;
    }
  }
  /* A new one only if both it and the one handed back can be kept idle
   * afterwards; else the least recently used one, whose state goes. */
  if (reuse_ && idle_.size() + 2 <= kMaxIdle) return Instance::Open(error);
  if (idle_.empty()) return nullptr;
  std::unique_ptr<Instance> instance = std::move(idle_.front());
  idle_.erase(idle_.begin());
  if (!instance->Reset(true).empty()) return nullptr;  // closed here
  return instance;
}

std::unique_ptr<Instance> InstancePool::TakeResident(const std::vector<SetupStep> &steps) {
  for (size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->resident != nullptr && idle_[i]->resident->Begins(steps)) {
      std::unique_ptr<Instance> instance = std::move(idle_[i]);
      idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
      return instance;
    }
  }
  return nullptr;
}

void InstancePool::Give(std::unique_ptr<Instance> instance, bool served) {
  if (served) instance->sessions++;
  if (!reuse_ || idle_.size() >= kMaxIdle || instance->sessions >= kSessionsPerInstance) return;  // closed here
  idle_.push_back(std::move(instance));
}

/* --- Emulator -------------------------------------------------------------- */

Emulator::Emulator(std::shared_ptr<InstancePool> pool) : pool_(std::move(pool)) {}

Emulator::~Emulator() { Dispose(false); }

std::string Emulator::Open() {
  std::string error;
  instance_ = pool_->Take(&error);
  if (instance_ == nullptr) return error;
  instance_->session = this;
  if (instance_->memory == nullptr) {
    auto memory = std::make_shared<HostMemory>();
    if (memory->data() == nullptr) return memory->error();
    instance_->memory = std::move(memory);
  }
  memory_ = instance_->memory;
  deferring_ = instance_->resident != nullptr;
  return "";
}

void Emulator::Dispose(bool release_memory) {
  if (instance_ != nullptr) {
    Instance &instance = *instance_;
    std::string error;
    if (deferring_) {
      /* nothing of this session was applied: the resident state stands */
      error = instance.Detach();
    } else if (release_memory && instance.resident != nullptr && past_warm_point_ && !instance.spoiled) {
      error = instance.ResetToResident();
      if (!error.empty()) error = instance.Reset(true);
    } else {
      /* Without release_memory, aliases of the memory may outlive the
       * session: the instance lets go of it (they unmap it when they go). */
      error = instance.Reset(release_memory);
    }
    /* An instance that cannot be reset is closed, never handed on. */
    if (error.empty()) pool_->Give(std::move(instance_));
    instance_.reset();
  }
  memory_.reset();
  armed_ = false;
  state_ = State::kDisposed;
}

const std::shared_ptr<HostMemory> &Emulator::memory() {
  if (!past_warm_point_) {
    /* JavaScript may write through what it gets: no resident state is made or adopted */
    keepable_ = false;
    if (deferring_) Materialize();
  }
  return memory_;
}

uint8_t *Emulator::ExposedHost() {
  memory();
  return host();
}

bool Emulator::Record(SetupStep step) {
  if (step.image != nullptr) {
    for (const SetupStep &earlier : steps_) {
      if (earlier.image != nullptr && !earlier.image->Same(*step.image)) keepable_ = false;
    }
  }
  steps_.push_back(std::move(step));
  if (!deferring_ || !keepable_) return false;
  if (instance_->resident->Begins(steps_)) return true;
  /* Another idle instance may hold the state these steps make (requests of
   * several snapshots on one thread): move there, nothing was applied here. */
  std::unique_ptr<Instance> other = pool_->TakeResident(steps_);
  if (other == nullptr) return false;
  instance_->session = nullptr;
  pool_->Give(std::move(instance_), false);
  instance_ = std::move(other);
  instance_->session = this;
  memory_ = instance_->memory;
  return true;
}

std::string Emulator::Materialize() {
  deferring_ = false;
  std::string error;
  /* Another instance when there is one, so that the resident state waits for its next request. */
  std::unique_ptr<Instance> clean = pool_->TakeClean(&error);
  if (clean != nullptr && clean->memory == nullptr) {
    auto memory = std::make_shared<HostMemory>();
    if (memory->data() != nullptr) clean->memory = std::move(memory);
  }
  if (clean != nullptr && clean->memory != nullptr && instance_->Detach().empty()) {
    pool_->Give(std::move(instance_), false);
    instance_ = std::move(clean);
  } else {
    if (clean != nullptr) pool_->Give(std::move(clean), false);
    error = instance_->Reset(true);
  }
  instance_->session = this;
  if (instance_->memory != nullptr) memory_ = instance_->memory;
  for (size_t i = 0; i < steps_.size() && error.empty(); i++) {
    const SetupStep &step = steps_[i];
    error = step.image != nullptr ? MapImageNow(*step.image, step.address, step.size, step.protection)
                                  : ProtectNow(step.address, step.size, step.protection);
  }
  if (!error.empty()) broken_ = "unicorn engine: " + error;
  return broken_;
}

std::string Emulator::ReachWarmPoint(bool warm) {
  if (past_warm_point_) return "";
  if (deferring_) {
    if (warm && keepable_ && steps_.size() == instance_->resident->steps.size()) {
      /* The same steps on a fresh instance would leave it as this one stands. */
      deferring_ = false;
      trampoline_written_ = true;
      past_warm_point_ = true;
      steps_.clear();
      instance_->changed.clear();
      pool_->residents_adopted++;
      return "";
    }
    std::string error = Materialize();
    if (!error.empty()) return error;
  }
  past_warm_point_ = true;
  bool imaged = false;
  for (const SetupStep &step : steps_) imaged = imaged || step.image != nullptr;
  if (warm && keepable_ && imaged && instance_->resident == nullptr) {
    auto resident = std::make_unique<Resident>();
    resident->steps = std::move(steps_);
    resident->pages = instance_->pages;
    resident->touched = instance_->touched;
    const std::vector<uint8_t> &pages = instance_->pages;
    for (uint64_t page = 0; page < pages.size();) {
      if ((pages[page] & kProtWrite) == 0) {
        page++;
        continue;
      }
      uint64_t last = page;
      while (last < pages.size() && (pages[last] & kProtWrite) != 0) last++;
      resident->writable.emplace_back(page, last);
      page = last;
    }
    instance_->resident = std::move(resident);
    instance_->changed.clear();
    instance_->spoiled = false;
    pool_->residents_made++;
  }
  steps_.clear();
  return "";
}

bool Emulator::Readable(uint64_t offset, uint64_t length) const {
  if (offset >= kSandboxSize || kSandboxSize - offset < length) return false;
  const int need = kProtRead | kProtExec;
  const std::vector<uint8_t> &pages = instance_->pages;
  return (pages[offset / kPageSize] & need) != 0 && (pages[(offset + length - 1) / kPageSize] & need) != 0;
}

void Emulator::RecordFault(int signal, uint64_t guest_pc) {
  stop_kind_ = kStopFault;
  fault_signal_ = static_cast<uint32_t>(signal);
  fault_pc_ = static_cast<uint32_t>(guest_pc - kBase);
}

void Emulator::WriteTrampoline() {
  /* The native engine's bytes (trampoline.h), so that the program reads
   * the same thing at 0x10000 and the memory etag is the same on both
   * engines; they never run here: the trap is the hook at 0x10000, which
   * fires before the first of them would. Called while the range is still
   * inaccessible. */
  uint8_t *tramp = host() + kTrampolineStart;
  mprotect(tramp, kTrampolineEnd - kTrampolineStart, PROT_READ | PROT_WRITE);
  memset(tramp, zvm::kTrampolineFill, kTrampolineEnd - kTrampolineStart);
  memcpy(tramp, zvm::kTrapSlotCode, sizeof zvm::kTrapSlotCode);
  trampoline_written_ = true;
}

std::string Emulator::Protect(uint64_t address, uint64_t size, int protection) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (!broken_.empty()) return broken_;
  if (const char *refusal = zvm::ProtectionRefusal(address, size, protection)) return refusal;
  if (size == 0) return "";
  if (!past_warm_point_) {
    if (Record(SetupStep{address, size, protection, nullptr})) return "";
    /* this step, like every earlier one, is applied there */
    if (deferring_) return Materialize();
  }
  return ProtectNow(address, size, protection);
}

std::string Emulator::ProtectNow(uint64_t address, uint64_t size, int protection) {
  if (zvm::TouchesTrampoline(address, size) && protection != 0 && !trampoline_written_) WriteTrampoline();
  if (mprotect(host() + address, size, HostProtection(protection)) != 0) return Errno("mprotect");
  Instance &instance = *instance_;
  if (past_warm_point_ && instance.resident != nullptr)
    instance.changed.emplace_back(address / kPageSize, (address + size) / kPageSize);
  return instance.Apply(address, size, protection, host());
}

std::string Emulator::MapImage(const zvm::MemoryImage &image, uint64_t address, uint64_t size, int protection) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (!broken_.empty()) return broken_;
  if (const char *refusal = zvm::ProtectionRefusal(address, size, protection)) return refusal;
  if (zvm::TouchesTrampoline(address, size)) return "mapImage: the trampoline is the engine's own";
  if (size == 0) return "";
  auto file = std::make_shared<ImageFile>();
  struct stat about;
  if (fstat(image.fd(), &about) != 0) return Errno("mapImage: fstat");
  file->dev = about.st_dev;
  file->ino = about.st_ino;
  file->fd = fcntl(image.fd(), F_DUPFD_CLOEXEC, 0);
  if (file->fd < 0) return Errno("mapImage: dup");
  if (!past_warm_point_) {
    if (Record(SetupStep{address, size, protection, file})) return "";
    if (deferring_) return Materialize();
  } else if (instance_->resident != nullptr) {
    instance_->spoiled = true;
  }
  return MapImageNow(*file, address, size, protection);
}

std::string Emulator::MapImageNow(const ImageFile &image, uint64_t address, uint64_t size, int protection) {
  Instance &instance = *instance_;
  /* other bytes under the same pages: no block made of the old ones may run */
  std::string error = instance.DropBlocks(address / kPageSize, (address + size) / kPageSize, true);
  if (!error.empty()) return error;
  void *at = mmap(host() + address, size, HostProtection(protection), MAP_PRIVATE | MAP_FIXED, image.fd, static_cast<off_t>(address));
  if (at == MAP_FAILED) return Errno("mapImage: mmap");
  return instance.Apply(address, size, protection, host());
}

std::string Emulator::LoadRegisters(uint64_t pc, bool at_start) {
  static const uint8_t kZero[16] = {};
  const uint64_t rsp = at_start ? kBase + kInitialStack : trap_rsp_;
  const uint64_t rip = kBase + pc;
  const uint64_t rdi = (rsp + 8) & 0xffffffff;
  const uint64_t base = kBase;
  const uint64_t flags = kInitialFlags;
  const uint64_t fpcw = 0x37F, fptag = 0xFFFF;
  const uint64_t mxcsr = kDefaultMxcsr;
  const uint64_t rax = at_start ? 0 : trap_rax_;
  /* Fixed arrays: this runs on every trap. */
  constexpr int kMaxRegs = 48;
  int regs[kMaxRegs];
  void *values[kMaxRegs];
  int count = 0;
  auto set = [&](int reg, const void *value) {
    regs[count] = reg;
    values[count] = const_cast<void *>(value);
    count++;
  };
  if (at_start) {
    set(UC_X86_REG_RBX, kZero);
    set(UC_X86_REG_RBP, &rsp);
    set(UC_X86_REG_R12, kZero);
    set(UC_X86_REG_R13, kZero);
    set(UC_X86_REG_R14, kZero);
    set(UC_X86_REG_MXCSR, &mxcsr);
  }
  set(UC_X86_REG_R15, &base);
  set(UC_X86_REG_RSP, &rsp);
  set(UC_X86_REG_RAX, &rax);
  set(UC_X86_REG_RCX, &rip);
  set(UC_X86_REG_RDI, &rdi);
  for (int reg : {UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11})
    set(reg, kZero);
  /* fninit */
  set(UC_X86_REG_FPCW, &fpcw);
  set(UC_X86_REG_FPSW, kZero);
  set(UC_X86_REG_FPTAG, &fptag);
  for (int reg : {UC_X86_REG_FIP, UC_X86_REG_FCS, UC_X86_REG_FDP, UC_X86_REG_FDS, UC_X86_REG_FOP}) set(reg, kZero);
  for (int i = 0; i < 16; i++) set(UC_X86_REG_XMM0 + i, kZero);
  set(UC_X86_REG_RFLAGS, &flags);
  set(UC_X86_REG_RIP, &rip);
  const uc_err err = uc_reg_write_batch(instance_->uc, regs, values, count);
  if (err != UC_ERR_OK) return UcError("uc_reg_write_batch", err);
  return "";
}

int Emulator::Start(uint64_t entry, double budget_ms, std::string *error) {
  if (state_ == State::kDisposed) {
    *error = "the session is disposed";
    return 0;
  }
  if (entry >= kSandboxSize || entry % 32 != 0) {
    *error = "start: the entry point must be a 32-byte aligned sandbox address";
    return 0;
  }
  *error = broken_.empty() ? ReachWarmPoint(false) : broken_;
  if (!error->empty()) return 0;
  *error = LoadRegisters(entry, true);
  if (!error->empty()) return 0;
  return Run(entry, budget_ms, error);
}

int Emulator::Resume(int32_t result, double budget_ms, std::string *error) {
  if (state_ != State::kInTrap) {
    *error = state_ == State::kDisposed ? "the session is disposed" : "resume: the last stop was not a trap";
    return 0;
  }
  trap_rax_ = static_cast<uint64_t>(static_cast<int64_t>(result));
  const uint64_t pc = ReturnAddress();
  *error = LoadRegisters(pc, false);
  if (!error->empty()) return 0;
  return Run(pc, budget_ms, error);
}

std::string Emulator::SaveTrapContext(uint64_t *out) const {
  if (state_ != State::kInTrap) return "saveTrapContext: the last stop was not a trap";
  /* the callee-saved registers stay in the emulator between a trap and its resume */
  int regs[] = {UC_X86_REG_RBX, UC_X86_REG_RBP, UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_MXCSR};
  uint64_t values[6] = {};
  void *ptrs[6];
  for (int i = 0; i < 6; i++) ptrs[i] = &values[i];
  const uc_err err = uc_reg_read_batch(instance_->uc, regs, ptrs, 6);
  if (err != UC_ERR_OK) return UcError("uc_reg_read_batch", err);
  out[zvm::kCtxBase] = kBase;
  out[zvm::kCtxRbx] = values[0];
  out[zvm::kCtxRbp] = values[1];
  out[zvm::kCtxR12] = values[2];
  out[zvm::kCtxR13] = values[3];
  out[zvm::kCtxR14] = values[4];
  out[zvm::kCtxMxcsr] = values[5] & 0xffffffffu;
  out[zvm::kCtxRsp] = trap_rsp_;
  out[zvm::kCtxRet] = trap_ret_;
  return "";
}

std::string Emulator::LoadTrapContext(const uint64_t *in) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (state_ != State::kReady) return "loadTrapContext: the session has already run";
  if (!broken_.empty()) return broken_;
  if (std::string error = ReachWarmPoint(true); !error.empty()) return error;
  if (!trampoline_written_) return "loadTrapContext: map the regions (and the trampoline) first";
  const uint64_t from = in[zvm::kCtxBase];
  uint64_t values[6] = {
      zvm::RebaseWord(in[zvm::kCtxRbx], from, kBase), zvm::RebaseStackWord(in[zvm::kCtxRbp], kBase),
      zvm::RebaseWord(in[zvm::kCtxR12], from, kBase), zvm::RebaseWord(in[zvm::kCtxR13], from, kBase),
      zvm::RebaseWord(in[zvm::kCtxR14], from, kBase), in[zvm::kCtxMxcsr] & 0xffffffffu,
  };
  int regs[] = {UC_X86_REG_RBX, UC_X86_REG_RBP, UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_MXCSR};
  void *ptrs[6];
  for (int i = 0; i < 6; i++) ptrs[i] = &values[i];
  const uc_err err = uc_reg_write_batch(instance_->uc, regs, ptrs, 6);
  if (err != UC_ERR_OK) return UcError("uc_reg_write_batch", err);
  trap_rsp_ = zvm::RebaseStackWord(in[zvm::kCtxRsp], kBase);
  trap_ret_ = in[zvm::kCtxRet];
  state_ = State::kInTrap;
  return "";
}

bool Emulator::Arm(double budget_ms, std::string *error) {
  const int64_t now = Watchdog::NowNs();
  const int64_t budget_ns = static_cast<int64_t>(std::fmin(budget_ms, kMaxBudgetMs) * 1e6);
  const int64_t deadline = now + (budget_ns > 0 ? budget_ns : 1);
  /* Still armed for (about) this deadline and not yet expired: it will fire. */
  if (armed_ && armed_deadline_ns_ > now && std::llabs(deadline - armed_deadline_ns_) <= kSameDeadlineNs) return true;
  if (instance_->watchdog == nullptr || instance_->watch == nullptr) {
    *error = "internal error: no watchdog";
    return false;
  }
  instance_->watchdog->Arm(instance_->watch.get(), deadline);
  armed_ = true;
  armed_deadline_ns_ = deadline;
  return true;
}

int Emulator::Run(uint64_t pc, double budget_ms, std::string *error) {
  if (!(budget_ms > 0)) {
    /* No time left: the program does not run at all. */
    state_ = State::kStopped;
    return kStopTimeout;
  }
  stop_kind_ = 0;
  WatchdogEntry *watch = instance_->watch.get();
  watch->fired.store(false);
  /* Running before the deadline is checked: a watchdog that sees the
   * deadline pass also sees this run (both are sequentially consistent). */
  watch->running.store(true);
  if (!Arm(budget_ms, error)) {
    watch->running.store(false);
    return 0;
  }
  SetRunning(&instance_->guest);
  const uc_err err = uc_emu_start(instance_->uc, kBase + pc, 0, 0, 0);
  SetRunning(nullptr);
  watch->running.store(false);
  const int kind = Classify(err, error);
  state_ = kind == kStopTrap ? State::kInTrap : State::kStopped;
  return kind;
}

int Emulator::Classify(uc_err err, std::string *error) {
  if (stop_kind_ != 0) return stop_kind_;
  uint64_t rip = 0;
  uc_reg_read(instance_->uc, UC_X86_REG_RIP, &rip);
  switch (err) {
    case UC_ERR_OK:
      break;
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_WRITE_UNMAPPED:
    case UC_ERR_FETCH_UNMAPPED:
    case UC_ERR_READ_PROT:
    case UC_ERR_WRITE_PROT:
    case UC_ERR_FETCH_PROT:
      RecordFault(kSigSegv, rip);
      return kStopFault;
    case UC_ERR_READ_UNALIGNED:
    case UC_ERR_WRITE_UNALIGNED:
    case UC_ERR_FETCH_UNALIGNED:
      RecordFault(kSigBus, rip);
      return kStopFault;
    case UC_ERR_INSN_INVALID:
      RecordFault(kSigIll, rip);
      return kStopFault;
    case UC_ERR_EXCEPTION:
      RecordFault(kSigSegv, rip);
      return kStopFault;
    default:
      *error = UcError("the emulator stopped", err);
      return 0;
  }
  if (instance_->watch->fired.load()) return kStopTimeout;
  /* Stopped for no reason a program can give at CPL 3 (the only other
   * normal end is reaching uc_emu_start's `until`, guest address 0, outside
   * the sandbox): a fault where it stands. */
  RecordFault(kSigSegv, rip);
  return kStopFault;
}

}  // namespace zvm_uc
