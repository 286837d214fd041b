# unsafe: a program the validator must reject. It stores through an
# unsandboxed pointer, returns with ret and makes a Linux system call — each
# would let untrusted code reach outside the sandbox.
        .bundle_align_mode 5
        .text
        .globl _start
        .p2align 5
_start:
        mov %rax, 8(%rbx)               # store via %rbx: not %r15-based
        mov $60, %eax
        syscall                         # direct system call
        .p2align 5
        ret                             # returns are not allowed
