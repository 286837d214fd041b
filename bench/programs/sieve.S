# sieve: the sieve of Eratosthenes over N bytes, PASSES times; the result is
# the number of primes below N summed over the passes. Each pass clears the
# array (rep stosq), then walks i = 2..N-1: an unmarked i is a prime, counted,
# and when i*i < N it marks i*i, i*i+i, ... A store-heavy workload (byte
# stores with growing strides over 4 MiB). Same computation: sieve.c.
        .bundle_align_mode 5
        .include "bench.inc"

        .set N, 1 << 22
        .set PASSES, 8

        .text
        .globl _start
        .p2align 5
_start:
        enter
        xor %r12d, %r12d                # primes counted, all passes
        mov $PASSES, %r13d
        lea sieve(%rip), %rbx
        mov %ebx, %ebx                  # the array's sandbox address
pass:
        mov %ebx, %edi
        xor %eax, %eax
        mov $N / 8, %ecx
        .bundle_lock
        mov %edi, %edi
        lea (%r15,%rdi,1), %rdi
        rep stosq
        .bundle_unlock
        mov $2, %esi                    # i
next:
        .bundle_lock
        lea (%rbx,%rsi), %eax           # a 32-bit write: restricts %rax
        cmpb $0, (%r15,%rax)
        .bundle_unlock
        jne composite
        inc %r12
        mov %rsi, %rdx
        imul %rdx, %rdx                 # j = i * i
        cmp $N, %rdx
        jae composite
mark:
        .bundle_lock
        lea (%rbx,%rdx), %eax
        movb $1, (%r15,%rax)
        .bundle_unlock
        add %rsi, %rdx
        cmp $N, %rdx
        jb mark
composite:
        inc %esi
        cmp $N, %esi
        jb next
        dec %r13d
        jnz pass

        mov %r12, %rax
        finish

        .bss
        .p2align 12
sieve:
        .skip N
