# hello: writes "hello, world" to stdout (channel 1) and exits with code 0.
#
# Build: see Makefile (clang's integrated assembler for .bundle_align_mode,
# GNU ld with nexe.ld, then EI_OSABI 123 / EI_ABIVERSION 7).
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .text
        .globl _start
        .p2align 5
_start:
        # Room for the 48-byte trap argument block on the stack. %esp is
        # written with a 32-bit operation and rebased onto %r15 at once.
        .bundle_lock
        sub $48, %esp
        add %r15, %rsp
        .bundle_unlock

        movq $TRAP_WRITE, (%rsp)
        movq $0, 8(%rsp)
        movq $1, 16(%rsp)               # channel 1: stdout
        lea message(%rip), %rax         # sandbox address of the text
        mov %eax, %eax                  # keep the low 32 bits: a sandbox pointer
        mov %rax, 24(%rsp)
        movq $message_length, 32(%rsp)
        movq $0, 40(%rsp)               # offset (ignored by sequential channels)
        mov %esp, %edi                  # 32-bit address of the argument block
        trap_call

        movq $0, 16(%rsp)               # exit code 0
        trap_exit

        .section .rodata
message:
        .ascii "hello, world\n"
        .set message_length, . - message
