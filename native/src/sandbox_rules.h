/*
 * The sandbox's shape and the protection rules every engine enforces, in
 * one place: both addons (the native engine's sandbox.cc and the Unicorn
 * engine's unicorn/emulator.cc) refuse the same protection changes with the
 * same messages, so a rule cannot be loosened in one engine only.
 */
#ifndef ZEROVM_NATIVE_SANDBOX_RULES_H
#define ZEROVM_NATIVE_SANDBOX_RULES_H

#include <cstdint>

namespace zvm {

constexpr uint64_t kSandboxSize = uint64_t{1} << 32;
/* The granule of protection changes: a host page (TrapJail acts on 4 KiB pages). */
constexpr uint64_t kPageSize = 4 * 1024;
/*
 * ZeroVM's fixed base: the same %r15 in every run (native: when free). The
 * original reserved its 40 GiB + 4 GiB + 40 GiB at 0x440000000000, so its
 * sandbox starts 40 GiB further (spec/runtime.md, "Engines").
 */
constexpr uint64_t kPreferredBase = 0x440A00000000;
constexpr uint32_t kTrampolineStart = 0x10000;
constexpr uint32_t kTrampolineEnd = 0x20000;

/* Protection bits, as in engine.ts. */
enum : int { kProtRead = 1, kProtWrite = 2, kProtExec = 4 };

/* True when [address, address + size) overlaps the trampoline. */
inline bool TouchesTrampoline(uint64_t address, uint64_t size) {
  return address < kTrampolineEnd && address + size > kTrampolineStart;
}

/*
 * Why a protection change is refused, or nullptr: whole 4 KiB pages inside
 * the sandbox, known bits, never writable and executable at once (the
 * program could run code that was never validated), never a writable
 * trampoline.
 */
inline const char *ProtectionRefusal(uint64_t address, uint64_t size, int protection) {
  if (address % kPageSize != 0 || size % kPageSize != 0) return "protect: address and size must be multiples of 4 KiB";
  if (address > kSandboxSize || size > kSandboxSize - address) return "protect: the range leaves the 4 GiB sandbox";
  if (protection < 0 || protection > 7) return "protect: unknown protection bits";
  if ((protection & kProtWrite) && (protection & kProtExec))
    return "protect: pages may not be both writable and executable (the program could run unvalidated code)";
  if (TouchesTrampoline(address, size) && (protection & kProtWrite))
    return "protect: the trampoline [0x10000, 0x20000) may not be writable";
  return nullptr;
}

/*
 * A trap context: the untrusted state at a trap stop that a later session
 * resumes from (warm starts, spec/runtime.md "Daemon mode"). Words, in this
 * order; the same in both engines, each of which reads only its own.
 */
enum TrapContextWord : int {
  kCtxBase = 0,  // the sandbox base (%r15) the words were taken at
  kCtxRbx,
  kCtxRbp,
  kCtxR12,
  kCtxR13,
  kCtxR14,
  kCtxRsp,  // as the engine keeps it at the trap
  kCtxRet,  // the raw 64-bit return address at (%rsp)
  kCtxMxcsr,
  kTrapContextWords
};

/* %rsp and %rbp always point into the sandbox (the validator keeps them
 * there): the same sandbox address under the new base. */
inline uint64_t RebaseStackWord(uint64_t word, uint64_t to) { return to + (word & 0xffffffffu); }

/* Any other register that held an address of the old sandbox (its upper
 * half is the old base's) holds the same sandbox address of the new one, as
 * if the program had run there from the start; other values stay. */
inline uint64_t RebaseWord(uint64_t word, uint64_t from, uint64_t to) {
  return (word >> 32) == (from >> 32) ? to + (word & 0xffffffffu) : word;
}

}  // namespace zvm

#endif
