# wc: counts the lines (newlines) and bytes of stdin (channel 0) and writes
# "LINES BYTES\n" in decimal to stdout (channel 1); exit code 0 (1 when a
# read fails).
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .set BUFFER_SIZE, 65536

# prepend_char CHAR: one character before the text at sandbox address %ecx.
        .macro prepend_char char
        dec %ecx
        .bundle_lock
        mov %ecx, %ecx
        movb $\char, (%r15,%rcx)
        .bundle_unlock
        .endm

# prepend_decimal: %rax in decimal before the text at sandbox address %ecx
# (clobbers %rax, %rdx).
        .macro prepend_decimal
1:
        xor %edx, %edx
        div %r8
        add $48, %edx                   # '0' + digit
        dec %ecx
        .bundle_lock
        mov %ecx, %ecx
        mov %dl, (%r15,%rcx)
        .bundle_unlock
        test %rax, %rax
        jnz 1b
        .endm

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp                   # the trap argument block
        add %r15, %rsp
        .bundle_unlock

        xor %r12d, %r12d                # lines
        xor %r13d, %r13d                # bytes
read:
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
        jz print
        js failed

        mov %eax, %eax
        add %rax, %r13
        mov 24(%rsp), %rsi              # from the buffer's start
        lea (%rsi,%rax), %rdi           # to its end
count:
        .bundle_lock
        mov %esi, %esi
        cmpb $10, (%r15,%rsi)
        .bundle_unlock
        jne 2f
        inc %r12
2:
        inc %esi
        cmp %esi, %edi
        jne count
        jmp read

print:
        lea text_end(%rip), %rcx
        mov %ecx, %ecx                  # sandbox address just past the text
        mov %ecx, %r14d
        mov $10, %r8d
        prepend_char 10                 # '\n'
        mov %r13, %rax
        prepend_decimal
        prepend_char 32                 # ' '
        mov %r12, %rax
        prepend_decimal

        movq $TRAP_WRITE, (%rsp)
        movq $1, 16(%rsp)               # channel 1: stdout
        mov %rcx, 24(%rsp)
        sub %ecx, %r14d
        mov %r14, 32(%rsp)
        mov %esp, %edi
        trap_call
        movq $0, 16(%rsp)               # exit code 0
        jmp finish
failed:
        movq $1, 16(%rsp)
finish:
        trap_exit

        .bss
        .p2align 5
buffer:
        .zero BUFFER_SIZE
text:
        .zero 48
text_end:
