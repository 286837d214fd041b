# cat: copies stdin (channel 0) to stdout (channel 1) through TrapRead and
# TrapWrite until end of input, then exits with code 0 (1 on an error).
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .set BUFFER_SIZE, 65536

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp                   # the trap argument block
        add %r15, %rsp
        .bundle_unlock

copy:
        movq $TRAP_READ, (%rsp)
        movq $0, 8(%rsp)
        movq $0, 16(%rsp)               # channel 0: stdin
        lea buffer(%rip), %rax
        mov %eax, %eax                  # sandbox address of the buffer
        mov %rax, 24(%rsp)
        movq $BUFFER_SIZE, 32(%rsp)
        movq $0, 40(%rsp)
        mov %esp, %edi
        trap_call
        test %eax, %eax
        jz done                         # end of input
        js failed

        mov %eax, %r12d                 # bytes read (kept across the trap)
        movq $TRAP_WRITE, (%rsp)
        movq $1, 16(%rsp)               # channel 1: stdout
        mov %r12, 32(%rsp)              # the buffer pointer is still at 24(%rsp)
        mov %esp, %edi
        trap_call
        cmp %eax, %r12d
        je copy

failed:
        movq $1, 16(%rsp)
        jmp finish
done:
        movq $0, 16(%rsp)
finish:
        trap_exit

        .bss
        .p2align 5
buffer:
        .zero BUFFER_SIZE
