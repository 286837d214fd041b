# faults: ends the session in the way selected by the first byte of
# channel 0 (stdin). Every path is valid sandboxed code under both NaCl's
# and ZeroVM 2015's validators; the runtime must stop it and report the
# signal (spec/runtime.md "A session, step by step", step 8). No valid
# program can set TF or AC (that needs popf, which both validators refuse),
# so single-step and alignment-check faults are not cases of this suite.
#   r  read sandbox address 0 (the NULL guard)                 SIGSEGV 11
#   w  write to the program's own text at 0x20000               SIGSEGV 11
#   m  write to the user manifest at 0xFEFFFFF0 (read-only)     SIGSEGV 11
#   n  read 0x80000000, the hole between the heap and the
#      user manifest (with Memory of 2 GiB or less)             SIGSEGV 11
#   g  read past 4 GiB: 0x1000(%r15,%rax) with %rax 0xFFFFFFFF  SIGSEGV 11
#   x  jump into the stack (not executable)                     SIGSEGV 11
#   h  jump to trampoline slot 1 (0x10020)      "nacl syscall #1 received", EINVAL 22
#   s  push until the stack runs into the user manifest         SIGSEGV 11
#   b  the trap with %edi = 0: no argument block                EFAULT 14
#   d  divide by zero                                           SIGFPE 8
#   u  ud2                                                      SIGILL 4
#   a  movdqa from an address that is not 16-byte aligned      SIGSEGV 11
#      (the CPU's #GP; an emulator may not reproduce it: the
#      case is of the native-cpu profile)
#   l  an endless loop                                          session timeout
# Any other byte (or an empty stdin): TrapExit(1).
        .bundle_align_mode 5
        .include "conformance.inc"

        .text
        .globl _start
        .p2align 5
_start:
        read_selector
        select 'r', read_null
        select 'w', write_text
        select 'm', write_manifest
        select 'n', read_hole
        select 'g', read_guard
        select 'x', jump_stack
        select 'h', jump_trampoline
        select 's', overflow
        select 'b', bad_block
        select 'd', divide
        select 'u', undefined
        select 'a', misaligned_sse
        select 'l', endless
        exit_with $1

read_null:
        mov (%r15), %eax
        exit_with $2

write_text:
        mov $0x20000, %eax
        .bundle_lock
        mov %eax, %eax
        movb $0, (%r15,%rax)
        .bundle_unlock
        exit_with $2

write_manifest:
        mov $0xfefffff0, %eax
        .bundle_lock
        mov %eax, %eax
        movb $0, (%r15,%rax)
        .bundle_unlock
        exit_with $2

read_hole:
        mov $0x80000000, %eax
        .bundle_lock
        mov %eax, %eax
        mov (%r15,%rax), %ebx
        .bundle_unlock
        exit_with $2

read_guard:
        mov $0xffffffff, %eax
        .bundle_lock
        mov %eax, %eax
        mov 0x1000(%r15,%rax), %rbx
        .bundle_unlock
        exit_with $2

jump_stack:
        mov %esp, %eax
        .bundle_lock
        and $-32, %eax
        add %r15, %rax
        jmp *%rax
        .bundle_unlock

jump_trampoline:
        mov $0x10020, %eax
        .bundle_lock
        and $-32, %eax
        add %r15, %rax
        jmp *%rax
        .bundle_unlock

overflow:
        push %rax
        jmp overflow

bad_block:
        xor %edi, %edi
        trap_call
        exit_with $2

divide:
        xor %ecx, %ecx
        mov $1, %eax
        xor %edx, %edx
        div %ecx
        exit_with $2

undefined:
        ud2
        exit_with $2

misaligned_sse:
        lea io+1(%rip), %eax
        .bundle_lock
        mov %eax, %eax
        movdqa (%r15,%rax), %xmm0
        .bundle_unlock
        exit_with $2

endless:
        jmp endless

        .bss
        .p2align 5
io:
        .zero 48
selector:
        .zero 8
