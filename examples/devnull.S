# devnull: 1 000 000 one-byte TrapWrites to stdout (channel 1), then exit
# code 0 (1 when a write does not write its byte). The trap round-trip
# benchmark runs it with stdout mapped to /dev/null.
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .set WRITES, 1000000

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp                   # the trap argument block
        add %r15, %rsp
        .bundle_unlock

        mov $WRITES, %r12d              # writes left (callee-saved: kept across traps)
        movq $0, 8(%rsp)
        lea byte(%rip), %rax
        mov %eax, %eax                  # sandbox address of the byte
        mov %rax, 24(%rsp)
        movq $0, 40(%rsp)
write:
        movq $TRAP_WRITE, (%rsp)
        movq $1, 16(%rsp)               # channel 1: stdout
        movq $1, 32(%rsp)               # one byte
        mov %esp, %edi
        trap_call
        cmp $1, %eax
        jne failed
        dec %r12d
        jnz write

        movq $0, 16(%rsp)               # exit code 0
        jmp finish
failed:
        movq $1, 16(%rsp)
finish:
        trap_exit

        .section .rodata
byte:
        .ascii "."
