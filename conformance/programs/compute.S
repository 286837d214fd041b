# compute: a deterministic computation over the heap.
#   1. ORs together the first 1 MiB of the heap (found through the user
#      manifest's heap_ptr): it must read as zeroes;
#   2. fills that 1 MiB with the top bytes of a 64-bit LCG
#      (x = x * 6364136223846793005 + 1442695040888963407 from x = 0; each
#      step stores bits 56..63 of the new x);
#   3. writes the 1 MiB to stdout with one TrapWrite;
#   4. exits with the OR of step 1 (0 when the heap was zeroed).
# Its output, its etags and the memory etag must be the same on every run.
        .bundle_align_mode 5
        .include "conformance.inc"

        .set USER_MANIFEST_POINTER, 0xfefffffc
        .set SIZE, 0x100000

        .text
        .globl _start
        .p2align 5
_start:
        mov $USER_MANIFEST_POINTER, %eax
        .bundle_lock
        mov %eax, %eax
        mov (%r15,%rax), %eax           # the user manifest's address
        .bundle_unlock
        .bundle_lock
        mov %eax, %eax
        mov (%r15,%rax), %eax           # heap_ptr
        .bundle_unlock
        mov %eax, %r12d                 # the block
        lea SIZE(%rax), %r13d           # its end

        xor %ebx, %ebx                  # OR of the heap's bytes
        mov %r12d, %ecx
scan:
        .bundle_lock
        mov %ecx, %ecx
        or (%r15,%rcx), %bl
        .bundle_unlock
        inc %ecx
        cmp %ecx, %r13d
        jne scan
        mov %rbx, result(%rip)

        xor %eax, %eax                  # x
        movabs $6364136223846793005, %r8
        movabs $1442695040888963407, %r9
        mov %r12d, %ecx
fill:
        imul %r8, %rax
        add %r9, %rax
        mov %rax, %rdx
        shr $56, %rdx
        .bundle_lock
        mov %ecx, %ecx
        mov %dl, (%r15,%rcx)
        .bundle_unlock
        inc %ecx
        cmp %ecx, %r13d
        jne fill

        movq $TRAP_WRITE, io(%rip)
        movq $0, io+8(%rip)
        movq $1, io+16(%rip)
        mov %r12, io+24(%rip)
        movq $SIZE, io+32(%rip)
        movq $0, io+40(%rip)
        trap_at io
        mov result(%rip), %rax
        exit_with %rax

        .bss
        .p2align 5
io:
        .zero 48
result:
        .zero 8
