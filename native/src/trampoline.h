/*
 * The bytes of the trampoline's slot 0 (sandbox 0x10000), the same for
 * every engine and every process, so that what a program can read there —
 * and the memory etag, which covers the trampoline — never depends on the
 * engine, the host or the order in which addons were loaded.
 *
 *     mov    (%rsp), %rcx          48 8b 0c 24
 *     mov    %gs:0, %rdx           65 48 8b 14 25 00 00 00 00
 *     jmp    *%gs:8                65 ff 24 25 08 00 00 00
 *
 * Native engine: %gs points at a per-thread block (signals.cc: the running
 * context at 0, the address of zvm_trap_exit at 8), set once per thread
 * with arch_prctl(ARCH_SET_GS); glibc, Node and V8 leave %gs alone on
 * x86-64 Linux. The program cannot reach %gs-relative memory (segment
 * prefixes and segment register writes do not validate), so no host address
 * is exposed. The return address is read while still in the sandbox, so a
 * program that enters with a bad %rsp faults at 0x10000 like any other
 * program fault.
 * Unicorn engine: the same bytes are written, but never run: a hook on
 * 0x10000 stops the emulation before the first of them executes.
 * The rest of [0x10000, 0x20000) is hlt (0xF4).
 */
#ifndef ZEROVM_NATIVE_TRAMPOLINE_H
#define ZEROVM_NATIVE_TRAMPOLINE_H

#include <stdint.h>

namespace zvm {

constexpr uint8_t kTrapSlotCode[] = {
    0x48, 0x8b, 0x0c, 0x24,                          // mov (%rsp), %rcx
    0x65, 0x48, 0x8b, 0x14, 0x25, 0x00, 0x00, 0x00, 0x00,  // mov %gs:0, %rdx
    0x65, 0xff, 0x24, 0x25, 0x08, 0x00, 0x00, 0x00,        // jmp *%gs:8
};
static_assert(sizeof kTrapSlotCode <= 32, "slot 0 is one bundle");

/* Offsets of the per-thread block %gs points at (native engine). */
constexpr int kGsRunning = 0;
constexpr int kGsTrapExit = 8;

constexpr uint8_t kTrampolineFill = 0xF4;  // hlt

}  // namespace zvm

#endif
