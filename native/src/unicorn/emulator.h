/*
 * One Unicorn session: the 4 GiB of guest memory (host memory mapped into
 * the emulator region by region), the trap, faults, the time budget and the
 * register state the ABI prescribes on entry and after every trap.
 *
 * Pipeline position: addon.cc (Node-API glue) -> here -> libunicorn,
 * qemu_hooks.cc, watchdog.cc. No Node-API types in this file.
 *
 * Source of truth: spec/runtime.md ("Memory map", "Initial state", "The
 * register state after a trap", "Engines"), the engine contract in src/runtime/engine.ts, and the native engine
 * (native/src/switch.S, sandbox.cc), which this one must match register for
 * register and fault for fault.
 */
#ifndef ZEROVM_UNICORN_EMULATOR_H
#define ZEROVM_UNICORN_EMULATOR_H

#include <sys/types.h>
#include <unicorn/unicorn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../memory_image.h"
#include "../sandbox_rules.h"
#include "qemu_hooks.h"
#include "watchdog.h"

namespace zvm_uc {

/* The sandbox's shape and protection rules, shared with the native engine. */
using zvm::kPageSize;
using zvm::kProtExec;
using zvm::kProtRead;
using zvm::kProtWrite;
using zvm::kSandboxSize;
using zvm::kTrampolineEnd;
using zvm::kTrampolineStart;
/* The guest address of sandbox address 0: ZeroVM's base, which the native
 * engine prefers too, so %r15 and every address a program can compute are
 * the same on both engines. (Host memory is anywhere: the emulator maps it.) */
constexpr uint64_t kBase = zvm::kPreferredBase;

/* Stop kinds, as returned to JavaScript (the native engine's numbers). */
enum : int { kStopTrap = 1, kStopFault = 2, kStopTimeout = 3 };

/* The host memory behind the sandbox: 4 GiB reserved PROT_NONE and
 * MAP_NORESERVE, made accessible region by region. Shared with the external
 * ArrayBuffers that alias it, so it outlives whichever goes last. */
class HostMemory {
 public:
  HostMemory();
  ~HostMemory();
  HostMemory(const HostMemory &) = delete;
  HostMemory &operator=(const HostMemory &) = delete;
  uint8_t *data() const { return data_; }
  const std::string &error() const { return error_; }
  void Release();
  /* Makes all of it a fresh reservation again, in place (every page
   * inaccessible and zero; the address stays, so aliases stay valid).
   * Returns an error message (empty: done). */
  std::string Renew();

 private:
  uint8_t *data_ = nullptr;
  std::string error_;
};

class Emulator;

/*
 * A memory image (memory_image.h) as a warm session's setup names it: its
 * file (a descriptor of our own, so it outlives the JavaScript object) and
 * its identity (device and inode: unique while any descriptor or mapping
 * of it lives, and the image's bytes never change once made).
 */
struct ImageFile {
  ~ImageFile();
  int fd = -1;
  dev_t dev = 0;
  ino_t ino = 0;
  bool Same(const ImageFile &other) const { return dev == other.dev && ino == other.ino; }
};

/* One call that set a session up before it ran: protect(address, size,
 * protection), or mapImage(image, address, size, protection) when image is
 * set. */
struct SetupStep {
  uint64_t address = 0;
  uint64_t size = 0;
  int protection = 0;
  std::shared_ptr<ImageFile> image;
  bool operator==(const SetupStep &o) const {
    return address == o.address && size == o.size && protection == o.protection &&
           (image == nullptr) == (o.image == nullptr) && (image == nullptr || image->Same(*o.image));
  }
};

/*
 * What an instance keeps between warm sessions of one snapshot (emulator.cc,
 * "Translated blocks kept"): the setup steps that made it (a later session
 * whose steps are the same finds the same state), the page protections
 * they left, the writable page runs (what the program may have changed)
 * and the mapped runs (where Reset looks).
 */
struct Resident {
  /* Whether `so_far` are the first of its steps. */
  bool Begins(const std::vector<SetupStep> &so_far) const {
    if (so_far.size() > steps.size()) return false;
    for (size_t i = 0; i < so_far.size(); i++) {
      if (!(steps[i] == so_far[i])) return false;
    }
    return true;
  }
  std::vector<SetupStep> steps;
  std::vector<uint8_t> pages;
  std::vector<std::pair<uint64_t, uint64_t>> writable;
  std::vector<std::pair<uint64_t, uint64_t>> touched;
};

/*
 * A libunicorn engine made ready for sessions (CPL 3, the trap and
 * exception hooks, a watchdog entry, the CPU state saved right after), used
 * by one session at a time and reset for the next (emulator.cc, "Reuse").
 * It also keeps the page record the hooks and the interposers read, so a
 * session allocates none of it.
 */
class Instance {
 public:
  /* Null with `error` set on failure. */
  static std::unique_ptr<Instance> Open(std::string *error);
  ~Instance();
  Instance(const Instance &) = delete;
  Instance &operator=(const Instance &) = delete;

  /* Unmaps every page a session mapped, drops every translated block and
   * TLB entry, restores the CPU state saved on open and leaves the
   * watchdog's list; forgets the resident state and, with renew_memory,
   * makes the guest memory a fresh reservation (else drops it: aliases of
   * it may live on). Returns an error message (empty: ready for the next
   * session; else the instance must be closed). */
  std::string Reset(bool renew_memory);
  /* Back to the resident state (`resident` must be set, `changed` lists
   * what the session re-protected): keeps the translated blocks of pages
   * nothing could change. Returns an error message (empty: done; else
   * Reset(true) is the way back). */
  std::string ResetToResident();
  /* Leaves the watchdog's list and the CPU state saved on open. */
  std::string Detach();

  uc_engine *uc = nullptr;
  /* Sessions it has served (InstancePool retires it after kSessionsPerInstance). */
  unsigned sessions = 0;
  /* The session the hooks report to (null between sessions). */
  Emulator *session = nullptr;
  std::unique_ptr<WatchdogEntry> watch;
  Watchdog *watchdog = nullptr;
  /* Protection of each 4 KiB page, as last set (what the emulator maps). */
  std::vector<uint8_t> pages;
  /*
   * What the interposers of qemu_hooks.h read: per 64 KiB page, the union of
   * its 4 KiB pages' protections. The union never predicts a fault that
   * does not happen (an access to a page of a TrapJail block inside a
   * 64 KiB page is then reported at its translated block's start) and
   * keeps the fast-store repair to pages with no executable part.
   */
  std::vector<uint8_t> hook_pages;
  static constexpr uint64_t kHookPageSize = 64 * 1024;
  GuestAccess guest;
  /* The 4 KiB page runs [first, end) ever made accessible since the last
   * reset: where Reset looks for mappings to drop. */
  std::vector<std::pair<uint64_t, uint64_t>> touched;
  /* Guest memory (host memory mapped into the engine): the instance's, so
   * that a resident state survives its session. Null until first needed. */
  std::shared_ptr<HostMemory> memory;
  /* Set while the instance holds a warm session's state for the next one. */
  std::unique_ptr<Resident> resident;
  /* Page runs re-protected since the warm point (TrapJail, TrapUnjail). */
  std::vector<std::pair<uint64_t, uint64_t>> changed;
  /* Something since the warm point made the resident state unrecoverable
   * (an image mapped over it). */
  bool spoiled = false;

  void SummarizeHookPages(uint64_t first, uint64_t end);
  /* Unmaps the mapped pages of [first, end) from the emulator and records
   * them inaccessible; says whether any was executable or writable. */
  std::string UnmapPages(uint64_t first, uint64_t end, bool *had_exec, bool *had_write);
  /* The engine's part of a protection change (the host's is the caller's):
   * drops translated blocks of pages that gain or lose EXEC, maps
   * [address, address + size) at `host` with `protection`. */
  std::string Apply(uint64_t address, uint64_t size, int protection, uint8_t *host);
  /* Drops the translated blocks of the mapped pages of [first, end). */
  std::string DropBlocks(uint64_t first, uint64_t end, bool exec_only);

 private:
  Instance();
  std::string Prepare();
  std::string EnterUserMode();
  uc_context *initial_ = nullptr;
};

/*
 * Idle instances of one Node environment (one thread: the main thread or a
 * worker). A session takes one, or opens one when none is idle, and gives
 * it back on dispose; at most kMaxIdle are kept. Shared by the environment
 * and every live session, so it lives as long as the last of them.
 */
class InstancePool {
 public:
  InstancePool();
  /* An idle instance (one with a resident state first), or a new one; null with `error` set on failure. */
  std::unique_ptr<Instance> Take(std::string *error);
  /* An idle instance without a resident state, or a new one when there is
   * room to keep it, or the least recently used idle one reset; null when
   * none (or on failure, with `error`). */
  std::unique_ptr<Instance> TakeClean(std::string *error);
  /* An idle instance whose resident state begins with `steps`, or null. */
  std::unique_ptr<Instance> TakeResident(const std::vector<SetupStep> &steps);
  /* Keeps an instance idle, or closes it; `served`: it ran a session (it is
   * retired after kSessionsPerInstance), not only lent to one that moved on. */
  void Give(std::unique_ptr<Instance> instance, bool served = true);
  /* ZEROVM_UNICORN_FRESH_ENGINE=1: open and close an engine per session
   * instead (only to measure what reuse saves; emulator.cc, "Reuse"). */
  bool reuse() const { return reuse_; }
  /* Counts for tests and benchmarks (unicornBlockReuse in unicorn.ts): resident
   * states made, and sessions that started from one. */
  uint64_t residents_made = 0;
  uint64_t residents_adopted = 0;

 private:
  static constexpr size_t kMaxIdle = 2;
  /* libunicorn 2.0.1 reclaims its translation buffer only when it is full
   * (1 GiB) or flushed (UC_CTL_TB_FLUSH clears all of it: 3.6 s and 1 GiB
   * of RSS the first time, 50 ms after); the blocks a session leaves,
   * invalidated, still take their place (about 2.5 KiB for hello). So an
   * instance is closed after this many sessions, which frees the buffer. */
  static constexpr unsigned kSessionsPerInstance = 1000;
  std::vector<std::unique_ptr<Instance>> idle_;
  bool reuse_ = true;
};

class Emulator {
 public:
  explicit Emulator(std::shared_ptr<InstancePool> pool);
  ~Emulator();
  Emulator(const Emulator &) = delete;
  Emulator &operator=(const Emulator &) = delete;

  /* Takes an engine from the pool (or opens one); returns an error message (empty: done). */
  std::string Open();
  /*
   * The guest memory. The const form only names its type (session_wrap.h);
   * the other is what hands the memory out: a session still deferring its
   * setup (emulator.cc, "Translated blocks kept") applies it first, since
   * what JavaScript then reads or writes must be this session's.
   */
  const std::shared_ptr<HostMemory> &memory() const { return memory_; }
  const std::shared_ptr<HostMemory> &memory();
  uint8_t *host() const { return memory_->data(); }
  /* host(), once the setup is applied (see memory()). */
  uint8_t *ExposedHost();

  /* Each returns an error message (empty: done). */
  std::string Protect(uint64_t address, uint64_t size, int protection);
  /* A range of a memory image over the sandbox, copy-on-write (the warm start's snapshot). */
  std::string MapImage(const zvm::MemoryImage &image, uint64_t address, uint64_t size, int protection);
  /* Each returns a kStop* kind, or 0 with `error` set. */
  int Start(uint64_t entry, double budget_ms, std::string *error);
  int Resume(int32_t result, double budget_ms, std::string *error);
  /* Warm starts, as the native engine's (sandbox.h): the trap context. */
  std::string SaveTrapContext(uint64_t *out) const;
  std::string LoadTrapContext(const uint64_t *in);
  /* Resets the engine and gives it back to the pool (or closes it); with
   * release_memory, unmaps guest memory now (the caller has detached every
   * alias of it). Idempotent. */
  void Dispose(bool release_memory);

  /* After a trap: %edi and the (bundle-aligned, 32-bit) return address. */
  uint32_t trap_args() const { return static_cast<uint32_t>(trap_rdi_); }
  uint32_t trap_return() const { return ReturnAddress(); }
  /* After a fault: the signal and the sandbox address of the instruction. */
  uint32_t fault_signal() const { return fault_signal_; }
  uint32_t fault_pc() const { return fault_pc_; }

 private:
  enum class State { kReady, kInTrap, kStopped, kDisposed };
  friend struct EmulatorHooks;

  int Run(uint64_t pc, double budget_ms, std::string *error);
  std::string LoadRegisters(uint64_t pc, bool at_start);
  int Classify(uc_err err, std::string *error);
  bool Arm(double budget_ms, std::string *error);
  void WriteTrampoline();
  bool Readable(uint64_t offset, uint64_t length) const;
  std::string ProtectNow(uint64_t address, uint64_t size, int protection);
  std::string MapImageNow(const ImageFile &image, uint64_t address, uint64_t size, int protection);
  /* Records a setup step; says whether it may be skipped (deferred, the resident state has it). */
  bool Record(SetupStep step);
  /* Stops deferring: resets the instance and applies the recorded steps. */
  std::string Materialize();
  /* The warm point (the trap context loaded, or a start): adopts or makes the resident state. */
  std::string ReachWarmPoint(bool warm);
  void RecordFault(int signal, uint64_t guest_pc);
  uint32_t ReturnAddress() const { return static_cast<uint32_t>(trap_ret_) & ~uint32_t{31}; }

  std::shared_ptr<HostMemory> memory_;
  std::shared_ptr<InstancePool> pool_;
  std::unique_ptr<Instance> instance_;
  State state_ = State::kReady;
  /* The setup steps so far (before the warm point). */
  std::vector<SetupStep> steps_;
  /* The steps so far are a prefix of the instance's resident ones, and none was applied. */
  bool deferring_ = false;
  /* The setup may make or adopt a resident state: only protect and
   * mapImage of one image so far, nothing handed to JavaScript, and the
   * instance was clean (or resident, while deferring). */
  bool keepable_ = true;
  bool past_warm_point_ = false;
  /* Set when applying deferred steps failed: every later call fails with it. */
  std::string broken_;
  bool trampoline_written_ = false;
  bool armed_ = false;
  int64_t armed_deadline_ns_ = 0;

  /* Set by the hooks during a run. */
  int stop_kind_ = 0;
  uint64_t trap_rsp_ = 0;  // %rsp after the call, as if `ret` had popped it
  uint64_t trap_rdi_ = 0;
  uint64_t trap_ret_ = 0;  // the raw 64-bit word at (%rsp)
  uint64_t trap_rax_ = 0;  // what the resume puts in %rax
  uint32_t fault_signal_ = 0;
  uint32_t fault_pc_ = 0;
};

}  // namespace zvm_uc

#endif
