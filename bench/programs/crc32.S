# crc32: byte-wise, table-driven CRC-32 (the reflected polynomial 0xEDB88320,
# as zlib) of a LENGTH-byte buffer, ROUNDS times over, the CRC carried from
# one round to the next; the result is the final CRC. The buffer holds the
# top bytes of the 32-bit LCG x = x * 1103515245 + 12345 from x = 1. A
# load-heavy workload with a dependency chain through the table. Same
# computation: crc32.c.
        .bundle_align_mode 5
        .include "bench.inc"

        .set LENGTH, 1 << 20
        .set ROUNDS, 64

        .text
        .globl _start
        .p2align 5
_start:
        enter
        # the table: table[n] = n shifted right 8 times, xoring the polynomial
        # in whenever a 1 falls out
        xor %esi, %esi
entry:
        mov %esi, %eax
        mov $8, %ecx
bit:
        mov %eax, %edx
        shr $1, %eax
        and $1, %edx
        neg %edx
        and $0xedb88320, %edx
        xor %edx, %eax
        dec %ecx
        jnz bit
        .bundle_lock
        mov %esi, %esi
        mov %eax, table(%r15,%rsi,4)
        .bundle_unlock
        inc %esi
        cmp $256, %esi
        jb entry

        # the buffer
        mov $1, %eax
        xor %esi, %esi
fill:
        imul $1103515245, %eax, %eax
        add $12345, %eax
        mov %eax, %edx
        shr $24, %edx
        .bundle_lock
        mov %esi, %esi
        mov %dl, buffer(%r15,%rsi)
        .bundle_unlock
        inc %esi
        cmp $LENGTH, %esi
        jb fill

        mov $-1, %eax                   # the CRC
        mov $ROUNDS, %r12d
round:
        xor %esi, %esi
byte:
        .bundle_lock
        mov %esi, %esi
        movzbl buffer(%r15,%rsi), %edx
        .bundle_unlock
        xor %eax, %edx
        shr $8, %eax
        .bundle_lock
        movzbl %dl, %edx                # a 32-bit write: restricts %rdx
        xor table(%r15,%rdx,4), %eax
        .bundle_unlock
        inc %esi
        cmp $LENGTH, %esi
        jb byte
        dec %r12d
        jnz round

        not %eax
        mov %eax, %eax
        finish

        .bss
        .p2align 12
table:
        .skip 256 * 4
buffer:
        .skip LENGTH
