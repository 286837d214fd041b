# fib: the naive recursive Fibonacci number fib(N) (fib(0) = 0, fib(1) = 1),
# about 2 * fib(N + 1) calls, each through a sandboxed direct call and a
# masked return (nacl_ret). A call-heavy workload: in an emulator, every
# return is an indirect jump to look up. Same computation: fib.c.
        .bundle_align_mode 5
        .include "bench.inc"

        .set N, 35

        .text
        .globl _start
        .p2align 5
_start:
        enter
        mov $N, %edi
        .bundle_lock align_to_end
        call fib
        .bundle_unlock
        finish

# fib: %edi = n; returns fib(n) in %rax; keeps %rbx and %r12.
        .p2align 5
fib:
        cmp $2, %edi
        jb small
        push %rbx
        push %r12
        mov %edi, %ebx
        lea -1(%rbx), %edi
        .bundle_lock align_to_end
        call fib
        .bundle_unlock
        mov %rax, %r12
        lea -2(%rbx), %edi
        .bundle_lock align_to_end
        call fib
        .bundle_unlock
        add %r12, %rax
        pop %r12
        pop %rbx
        nacl_ret
small:
        mov %edi, %eax
        nacl_ret
