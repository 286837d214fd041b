# exit42: TrapExit(42), nothing else. The smallest program that shows it
# ran (user return code 42); the ELF conformance cases wrap its text in
# malformed and unusual ELF files.
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp                   # the argument block on the stack
        add %r15, %rsp
        .bundle_unlock
        movq $42, 16(%rsp)
        trap_exit
