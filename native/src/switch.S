/*
 * The context switch between the host (Node, C++) and validated untrusted
 * code, in both directions.
 *
 * Pipeline position: run.cc calls zvm_enter for start() and resume(); the
 * untrusted program comes back through the trampoline's slot 0 into
 * zvm_trap_exit, or through the signal handler (signals.cc), which points the
 * interrupted context at zvm_return_to_host.
 *
 * Source of truth: spec/runtime.md "Initial state and the entry block" and
 * "The register state after a trap", as the original ZeroVM 2015 set them. Every register the program can observe
 * is set here, the same way on entry and after every trap:
 *   rbx rbp r12 r13 r14  from the context (at start rbx, r12-r14 are 0 and rbp equals rsp; the program's after a trap)
 *   r15                  the sandbox base
 *   rsp                  from the context (base + 4 GiB - 56 at start,
 *                        just above the popped return address after a trap)
 *   rax                  from the context (0 at start, the int32 result
 *                        sign-extended after a trap)
 *   rcx                  the host address jumped to (base + pc)
 *   rdi                  the low 32 bits of rsp + 8, zero-extended
 *   rdx rsi r8-r11       0
 *   x87                  fninit; xmm0-15 (and ymm0-15 when AVX is on) zero
 *   rflags               0x246 (ZF PF IF; DF, TF, AC clear)
 *   MXCSR                the program's own (0x1F80 at start): ZeroVM never
 *                        touched it across a trap, so neither do we.
 *
 * Choices a reader may question:
 * - The host state is kept on the host stack (the six callee-saved registers
 *   pushed by zvm_enter) plus the stack pointer in the context; leaving is
 *   "load that stack pointer, pop, ret", whichever way we leave.
 * - On the way out the x87 unit is reset and the host's control words are
 *   reloaded, flags are forced to a clean value (the program may have set
 *   DF, AC or TF with popf), and vzeroupper avoids AVX-SSE transition costs.
 */
#include "context.h"

        .text

/* void zvm_enter(ZvmContext *ctx) */
        .globl  zvm_enter
        .hidden zvm_enter
        .type   zvm_enter, @function
        .p2align 4
zvm_enter:
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp                /* 16-byte alignment on the way back */
        stmxcsr CTX_HOST_MXCSR(%rdi)
        fnstcw  CTX_HOST_FCW(%rdi)
        movq    %rsp, CTX_HOST_RSP(%rdi)

        movq    %rdi, %rcx              /* %rcx: the context until the jump */
        movq    CTX_U_RBX(%rcx), %rbx
        movq    CTX_U_RBP(%rcx), %rbp
        movq    CTX_U_R12(%rcx), %r12
        movq    CTX_U_R13(%rcx), %r13
        movq    CTX_U_R14(%rcx), %r14
        movq    CTX_U_R15(%rcx), %r15
        movq    CTX_U_RAX(%rcx), %rax
        xorl    %edx, %edx
        xorl    %esi, %esi
        xorl    %r8d, %r8d
        xorl    %r9d, %r9d
        xorl    %r10d, %r10d
        xorl    %r11d, %r11d

        fninit
        cmpl    $0, CTX_USE_AVX(%rcx)
        je      1f
        vzeroall                        /* ymm0-15, so xmm0-15 too */
        jmp     2f
1:      xorps   %xmm0, %xmm0
        xorps   %xmm1, %xmm1
        xorps   %xmm2, %xmm2
        xorps   %xmm3, %xmm3
        xorps   %xmm4, %xmm4
        xorps   %xmm5, %xmm5
        xorps   %xmm6, %xmm6
        xorps   %xmm7, %xmm7
        xorps   %xmm8, %xmm8
        xorps   %xmm9, %xmm9
        xorps   %xmm10, %xmm10
        xorps   %xmm11, %xmm11
        xorps   %xmm12, %xmm12
        xorps   %xmm13, %xmm13
        xorps   %xmm14, %xmm14
        xorps   %xmm15, %xmm15
2:      ldmxcsr CTX_U_MXCSR(%rcx)

        /* Flags last among the flag-writing instructions: from here on only
         * mov, lea and jmp, none of which touch them. The push/pop use the
         * host stack below the saved frame. */
        pushq   $0x246
        popfq
        movq    CTX_U_RSP(%rcx), %rsp
        leal    8(%rsp), %edi           /* 32-bit lea: zero-extends */
        movq    CTX_U_RIP(%rcx), %rcx
        jmp     *%rcx
        .size   zvm_enter, . - zvm_enter

/*
 * Everything from here to zvm_exit_code_end may run with the program's
 * flags (a TF set by the program would single-step it); the signal handler
 * knows this range.
 */
        .globl  zvm_exit_code_begin
        .hidden zvm_exit_code_begin
        .p2align 4
zvm_exit_code_begin:

/*
 * Entered by a jump from the trampoline's slot 0, which has already read the
 * return address (so a bad %rsp faults inside the sandbox, not here):
 *   %rdx = the context (from the thread-local word), %rcx = the 64-bit
 *   word at (%rsp), %rdi = the program's %rdi, %rsp = the program's stack
 *   pointer after its call.
 * rax, rcx, rdx, rsi, r8-r11 are the program's scratch registers: the switch
 * back in overwrites all of them, so nothing of theirs is kept.
 */
        .globl  zvm_trap_exit
        .hidden zvm_trap_exit
        .type   zvm_trap_exit, @function
zvm_trap_exit:
        movq    %rbx, CTX_U_RBX(%rdx)
        movq    %rbp, CTX_U_RBP(%rdx)
        movq    %r12, CTX_U_R12(%rdx)
        movq    %r13, CTX_U_R13(%rdx)
        movq    %r14, CTX_U_R14(%rdx)
        leaq    8(%rsp), %rax           /* as if `ret` had popped it */
        movq    %rax, CTX_U_RSP(%rdx)
        movq    %rcx, CTX_U_RET(%rdx)
        movq    %rdi, CTX_U_RDI(%rdx)
        stmxcsr CTX_U_MXCSR(%rdx)
        movl    $ZVM_STOP_TRAP, CTX_STOP_KIND(%rdx)
        movq    %rdx, %rdi
        /* fall through */
        .size   zvm_trap_exit, . - zvm_trap_exit

/* %rdi = the context. Also the resume point the signal handler installs. */
        .globl  zvm_return_to_host
        .hidden zvm_return_to_host
        .type   zvm_return_to_host, @function
zvm_return_to_host:
        movq    CTX_HOST_RSP(%rdi), %rsp
        pushq   $0x202                  /* clears DF, TF, AC and the rest */
        popfq
        fninit
        fldcw   CTX_HOST_FCW(%rdi)
        ldmxcsr CTX_HOST_MXCSR(%rdi)
        cmpl    $0, CTX_USE_AVX(%rdi)
        je      3f
        vzeroupper
3:      addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .size   zvm_return_to_host, . - zvm_return_to_host

        .globl  zvm_exit_code_end
        .hidden zvm_exit_code_end
zvm_exit_code_end:

        .section .note.GNU-stack, "", @progbits
