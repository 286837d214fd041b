# invalid: exits with code 7, but its text also holds a `ret`, which the
# validator rejects (forbidden-instruction) though it is never executed.
# Without -s the session must not start (validation failed); with -s it
# runs and exits 7 (validator state 2).
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp
        add %r15, %rsp
        .bundle_unlock
        movq $7, 16(%rsp)
        trap_exit
        .p2align 5
never:
        ret
