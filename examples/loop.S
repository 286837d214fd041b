# loop: a pure compute loop for the compute benchmark. ITERATIONS steps of
# the 64-bit LCG x = x * 6364136223846793005 + 1442695040888963407 from
# x = 0, then the final x as 16 lowercase hex digits and a newline on stdout
# (channel 1), exit code 0.
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .set ITERATIONS, 800000000

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $64, %esp                   # argument block + 16 digits + newline
        add %r15, %rsp
        .bundle_unlock

        xor %eax, %eax                  # x
        movabs $6364136223846793005, %rsi
        movabs $1442695040888963407, %rdx
        mov $ITERATIONS, %ecx
step:
        imul %rsi, %rax
        add %rdx, %rax
        dec %ecx
        jnz step

        # The digits, most significant first: rotate the top nibble down,
        # turn it into a character and push it in at the top of %r8 (first
        # eight) or %r9 (last eight), so the first digit ends in the low byte.
        mov $16, %ecx
digit:
        rol $4, %rax
        mov %eax, %edx
        and $15, %edx
        lea 48(%rdx), %esi              # '0' + n
        lea 87(%rdx), %edi              # 'a' + n - 10
        cmp $10, %edx
        cmovae %edi, %esi
        shl $56, %rsi
        shr $8, %r9
        mov %r8, %rdx
        shl $56, %rdx
        or %rdx, %r9                    # the byte leaving %r8 enters %r9
        shr $8, %r8
        or %rsi, %r8
        dec %ecx
        jnz digit
        mov %r9, 48(%rsp)
        mov %r8, 56(%rsp)
        movq $TRAP_WRITE, (%rsp)
        movq $0, 8(%rsp)
        movq $1, 16(%rsp)               # channel 1: stdout
        lea 48(%rsp), %rax
        mov %eax, %eax
        mov %rax, 24(%rsp)
        movq $16, 32(%rsp)
        movq $0, 40(%rsp)
        mov %esp, %edi
        trap_call
        movq $TRAP_WRITE, (%rsp)
        lea newline(%rip), %rax
        mov %eax, %eax
        mov %rax, 24(%rsp)
        movq $1, 32(%rsp)
        mov %esp, %edi
        trap_call

        movq $TRAP_EXIT, (%rsp)
        movq $0, 16(%rsp)               # exit code 0
        mov %esp, %edi
        trap_call
        hlt

        .section .rodata
newline:
        .ascii "\n"
