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

#include <unicorn/unicorn.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

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

 private:
  uint8_t *data_ = nullptr;
  std::string error_;
};

class Emulator;

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
   * watchdog's list. Returns an error message (empty: ready for the next
   * session; else the instance must be closed). */
  std::string Reset();

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

  void SummarizeHookPages(uint64_t first, uint64_t end);
  /* Unmaps the mapped pages of [first, end) from the emulator and records
   * them inaccessible; says whether any was executable or writable. */
  std::string UnmapPages(uint64_t first, uint64_t end, bool *had_exec, bool *had_write);

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
  std::unique_ptr<Instance> Take(std::string *error);
  void Give(std::unique_ptr<Instance> instance);
  /* ZEROVM_UNICORN_FRESH_ENGINE=1: open and close an engine per session
   * instead (only to measure what reuse saves; emulator.cc, "Reuse"). */
  bool reuse() const { return reuse_; }

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
  Emulator(std::shared_ptr<HostMemory> memory, std::shared_ptr<InstancePool> pool);
  ~Emulator();
  Emulator(const Emulator &) = delete;
  Emulator &operator=(const Emulator &) = delete;

  /* Takes an engine from the pool (or opens one); returns an error message (empty: done). */
  std::string Open();
  const std::shared_ptr<HostMemory> &memory() const { return memory_; }
  uint8_t *host() const { return memory_->data(); }

  /* Each returns an error message (empty: done). */
  std::string Protect(uint64_t address, uint64_t size, int protection);
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
  void RecordFault(int signal, uint64_t guest_pc);
  uint32_t ReturnAddress() const { return static_cast<uint32_t>(trap_ret_) & ~uint32_t{31}; }

  std::shared_ptr<HostMemory> memory_;
  std::shared_ptr<InstancePool> pool_;
  std::unique_ptr<Instance> instance_;
  State state_ = State::kReady;
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
