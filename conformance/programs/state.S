# state: prints the register state the program observes (spec/runtime.md
# "Initial state" and "The register state after a trap") as text lines
# "name value" to stdout, one TrapWrite at the end.
#
# Section 1, at entry, before any instruction that changes a register or
# the flags: the general registers (those holding host addresses as their
# offset from %r15, and %r15's low 32 bits, which must be 0 because the
# base is 4 GiB aligned), the flags a program can see without pushf
# (CF, PF, ZF, SF, OF from setcc, DF from the direction of a stosb; printed
# at their rflags bit positions: 0x44 is ZF and PF), the x87 control,
# status and tag words (fnstenv: the full tag word, ffff when every
# register is empty), MXCSR and xmm0-15.
# Section 2 ("trap"), right after a trap returns: before the trap the
# program dirties every register the trap may reset (rdx, rsi, r8-r11,
# xmm0-15, the x87 stack, DF, MXCSR's rounding mode) and sets r12-r14; the
# trap sequence itself leaves only PF set among the arithmetic flags; the
# trap is an unknown function word, so its result is -EPERM (-1).
# %rbx is printed as is at entry and as its offset from %r15 after the trap
# (the trap sequence itself leaves base + 0x10000 in it).
# Values are 16 hex digits (xmm: 32, high half first). Only instructions
# both NaCl's and ZeroVM 2015's validators accept (no pushf, no fxsave).
        .bundle_align_mode 5
        .include "conformance.inc"

# ---------------------------------------------------------------------------
# Printing. %r12d is the output position; emit_* clobber %rax, %rcx, %rdx.

        .macro emit_al
        put_byte %al, %r12, %r12d
        inc %r12d
        .endm

        .macro emit_char c
        mov $\c, %al
        emit_al
        .endm

        .macro emit_text name
        .irpc c, \name
        mov $'\c', %al
        emit_al
        .endr
        .endm

# %rdx as 16 hex digits
        .macro emit_hex64
        mov $16, %ecx
1:
        rol $4, %rdx
        mov %edx, %eax
        and $15, %eax
        cmp $10, %eax
        jb 2f
        add $39, %eax                   # 'a' - '0' - 10
2:
        add $48, %eax
        emit_al
        dec %ecx
        jnz 1b
        .endm

# "name value\n" for a value in %rdx
        .macro line name
        mov %rdx, scratch(%rip)
        emit_text \name
        emit_char 32
        mov scratch(%rip), %rdx
        emit_hex64
        emit_char 10
        .endm

# the flags byte at fl+\slot, shifted to its rflags bit, or-ed into %edx
        .macro flag slot, bit
        movzbl fl+\slot(%rip), %eax
        shl $\bit, %eax
        or %eax, %edx
        .endm

# saves the registers, the flags, the x87, SSE and MXCSR state
        .macro save_state
        mov %rax, regs+0(%rip)
        mov %rbx, regs+8(%rip)
        mov %rcx, regs+16(%rip)
        mov %rdx, regs+24(%rip)
        mov %rsi, regs+32(%rip)
        mov %rdi, regs+40(%rip)
        mov %rbp, regs+48(%rip)
        mov %rsp, regs+56(%rip)
        mov %r8, regs+64(%rip)
        mov %r9, regs+72(%rip)
        mov %r10, regs+80(%rip)
        mov %r11, regs+88(%rip)
        mov %r12, regs+96(%rip)
        mov %r13, regs+104(%rip)
        mov %r14, regs+112(%rip)
        mov %r15, regs+120(%rip)
        setc fl+0(%rip)
        setp fl+1(%rip)
        setz fl+2(%rip)
        sets fl+3(%rip)
        seto fl+4(%rip)
        # DF: a sandboxed stosb moves %rdi down when it is set
        lea dfbyte(%rip), %rdi
        .bundle_lock
        mov %edi, %edi
        lea (%r15,%rdi,1), %rdi
        stosb %al, %es:(%rdi)
        .bundle_unlock
        lea dfbyte(%rip), %rax
        cmp %rax, %rdi
        setb fl+5(%rip)
        fnstenv env(%rip)
        stmxcsr mxcsr(%rip)
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        movdqu %xmm\n, xmm+16*\n(%rip)
        .endr
        .endm

# a saved register, optionally minus the saved %r15
        .macro reg name, slot
        mov regs+\slot(%rip), %rdx
        line \name
        .endm
        .macro reg_rel name, slot
        mov regs+\slot(%rip), %rdx
        sub regs+120(%rip), %rdx
        line \name
        .endm

        .macro call_print_section
        .bundle_lock align_to_end
        call print_section
        .bundle_unlock
        .endm

        .text
        .globl _start
        .p2align 5
_start:
        # mov and setcc do not change the flags: registers, then flags, then the rest
        save_state
        xor %r12d, %r12d                # output position (kept across traps)
        lea out(%rip), %rax
        mov %eax, %r12d
        call_print_section

        # dirty what the trap must reset, set what it must keep
        movabs $0x1111111111111111, %rdx
        mov %rdx, %rsi
        mov %rdx, %r8
        mov %rdx, %r9
        mov %rdx, %r10
        mov %rdx, %r11
        movabs $0x0123456789abcdef, %r13
        movabs $0x7edcba9876543210, %r14
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        pcmpeqd %xmm\n, %xmm\n          # all ones
        .endr
        fld1
        fldpi
        ldmxcsr rounding(%rip)          # round toward zero: 0x7f80
        std
        movq $0x65706f4e, probe(%rip)   # "Nope": not a trap function
        movq $0, probe+8(%rip)
        trap_at probe
        # back from the trap: the same saves as at entry
        save_state
        cld
        mov regs+120(%rip), %rax
        sub %rax, regs+8(%rip)          # %rbx holds base + 0x10000 (the trap sequence): print its offset
        emit_text trap
        emit_char 10
        call_print_section

        lea out(%rip), %rax
        mov %eax, %eax
        mov %r12d, %ecx
        sub %eax, %ecx                  # length
        write_out out, %rcx
        exit_with $0

        .p2align 5
print_section:
        reg rax, 0
        reg rbx, 8
        reg_rel rcx, 16
        reg rdx, 24
        reg rsi, 32
        reg rdi, 40
        reg_rel rbp, 48
        reg_rel rsp, 56
        reg r8, 64
        reg r9, 72
        reg r10, 80
        reg r11, 88
        reg r13, 104
        reg r14, 112
        mov regs+120(%rip), %rdx
        mov %edx, %edx
        line r15low
        xor %edx, %edx
        flag 0, 0                       # CF
        flag 1, 2                       # PF
        flag 2, 6                       # ZF
        flag 3, 7                       # SF
        flag 5, 10                      # DF
        flag 4, 11                      # OF
        line flags
        movzwl env+0(%rip), %edx
        line fcw
        movzwl env+4(%rip), %edx
        line fsw
        movzwl env+8(%rip), %edx
        line ftw
        mov mxcsr(%rip), %edx
        line mxcsr
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
        emit_text xmm\n
        emit_char 32
        mov xmm+16*\n+8(%rip), %rdx
        emit_hex64
        mov xmm+16*\n(%rip), %rdx
        emit_hex64
        emit_char 10
        .endr
        nacl_ret

        .data
        .p2align 2
rounding:
        .long 0x7f80

        .bss
        .p2align 5
regs:
        .zero 128
scratch:
        .zero 8
fl:
        .zero 8
dfbyte:
        .zero 8
io:
        .zero 48
probe:
        .zero 48
env:
        .zero 28
mxcsr:
        .zero 4
        .p2align 4
xmm:
        .zero 256
out:
        .zero 4096
