# faults: ends the session in the way selected by the first byte of
# channel 0 (stdin). Every path is valid sandboxed code; the runtime must
# stop it and report the signal (spec/runtime.md "A session, step by
# step", step 8; zerovm-abi.md §7):
#   r  read sandbox address 0 (the NULL guard)                 SIGSEGV 11
#   w  write to the program's own text at 0x20000               SIGSEGV 11
#   m  write to the user manifest at 0xFF000000 (read-only)     SIGSEGV 11
#   n  read 0x80000000, the hole between the heap and the
#      user manifest (with Memory of 2 GiB or less)             SIGSEGV 11
#   g  read past 4 GiB: 0x1000(%r15,%rax) with %rax 0xFFFFFFFF  SIGSEGV 11
#   x  jump into the stack (not executable)                     SIGSEGV 11
#   h  jump to a hlt slot of the trampoline (0x10020)           SIGSEGV 11
#   s  push until the stack runs into the user manifest         SIGSEGV 11
#   b  the trap with %edi = 0: an unreadable argument block      SIGSEGV 11 (trusted side)
#   d  divide by zero                                           SIGFPE 8
#   u  ud2                                                      SIGILL 4
#   t  set TF with popfq: the next instruction single-steps     SIGTRAP 5
#   a  set AC with popfq, then a misaligned load                SIGBUS 7
#   l  an endless loop                                          session timeout
# Any other byte (or an empty stdin): TrapExit(1).
        .bundle_align_mode 5
        .include "conformance.inc"

        .macro select letter, target
        cmpb $\letter, selector(%rip)
        je \target
        .endm

        .text
        .globl _start
        .p2align 5
_start:
        lea selector(%rip), %rax
        mov %eax, %eax
        movq $TRAP_READ, io(%rip)
        movq $0, io+8(%rip)
        movq $0, io+16(%rip)
        mov %rax, io+24(%rip)
        movq $1, io+32(%rip)
        movq $0, io+40(%rip)
        trap_at io
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
        select 't', single_step
        select 'a', misaligned
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
        mov $0xff000000, %eax
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

single_step:
        pushfq
        orq $0x100, (%rsp)              # TF
        popfq
        nop
        exit_with $2

misaligned:
        pushfq
        orq $0x40000, (%rsp)            # AC
        popfq
        mov 1(%rsp), %eax
        pushfq
        andq $-0x40001, (%rsp)
        popfq
        exit_with $2

endless:
        jmp endless

        .bss
        .p2align 5
io:
        .zero 48
selector:
        .zero 8
