/*
 * The run context: everything the context switch (switch.S) and the signal
 * handler (signals.cc) share about one session. One per session, at a fixed
 * address for the session's life; while the session runs, a thread-local
 * word points to it (the trampoline's slot 0 loads it from there).
 *
 * This header is read by both C++ and the assembler, so field offsets are
 * spelled out as numbers; `static_assert`s in sandbox.cc tie them to the
 * struct.
 */
#ifndef ZEROVM_NATIVE_CONTEXT_H
#define ZEROVM_NATIVE_CONTEXT_H

/* Offsets, in bytes. */
#define CTX_HOST_RSP    0   /* host %rsp after zvm_enter pushed its frame */
#define CTX_U_RBX       8   /* untrusted callee-saved registers ... */
#define CTX_U_RBP       16
#define CTX_U_R12       24
#define CTX_U_R13       32
#define CTX_U_R14       40
#define CTX_U_R15       48  /* ... and the base, which never changes */
#define CTX_U_RSP       56  /* %rsp to enter with */
#define CTX_U_RAX       64  /* %rax to enter with */
#define CTX_U_RIP       72  /* host address to jump to (also left in %rcx) */
#define CTX_U_RET       80  /* trap: the raw 64-bit return address at (%rsp) */
#define CTX_U_RDI       88  /* trap: %rdi (the argument block is %edi) */
#define CTX_U_MXCSR     96  /* untrusted MXCSR, kept across traps */
#define CTX_HOST_MXCSR  100
#define CTX_HOST_FCW    104 /* host x87 control word (16 bits) */
#define CTX_USE_AVX     108 /* nonzero: clear ymm with vzeroall */
#define CTX_STOP_KIND   112 /* ZVM_STOP_* */
#define CTX_STOP_SIGNAL 116
#define CTX_STOP_PC     120 /* fault: host %rip of the faulting instruction */
#define CTX_ASM_SIZE    128 /* the part the assembler knows; C++-only fields follow */

/* Stop kinds, as returned to JavaScript. */
#define ZVM_STOP_TRAP    1
#define ZVM_STOP_FAULT   2
#define ZVM_STOP_TIMEOUT 3

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <time.h>

struct ZvmContext {
  uint64_t host_rsp;
  uint64_t u_rbx, u_rbp, u_r12, u_r13, u_r14, u_r15;
  uint64_t u_rsp;
  uint64_t u_rax;
  uint64_t u_rip;
  uint64_t u_ret;
  uint64_t u_rdi;
  uint32_t u_mxcsr;
  uint32_t host_mxcsr;
  uint16_t host_fcw;
  uint16_t pad0;
  uint32_t use_avx;
  uint32_t stop_kind;
  uint32_t stop_signal;
  uint64_t stop_pc;
  /* The session's watchdog timer (C++ only): the signal handler re-arms it
   * when its signal lands in the switch code. Valid when timer_valid. */
  timer_t timer;
  int timer_valid;
};

extern "C" {
/* Saves the host's callee-saved state in `ctx`, loads the untrusted state
 * and jumps to ctx->u_rip. "Returns" when zvm_return_to_host runs. */
void zvm_enter(ZvmContext *ctx);
/* Where the trampoline's slot 0 jumps (%rdx = context, %rcx = return address). */
void zvm_trap_exit(void);
/* Switches back to the host frame saved by zvm_enter (%rdi = context). */
void zvm_return_to_host(void);
/* Bounds of the trusted code that may run with untrusted flags (TF). */
extern const char zvm_exit_code_begin[];
extern const char zvm_exit_code_end[];
}
#endif

#endif
