# driver: runs a script of trap calls and prints each result.
#
# The script is channel 0 (stdin): a sequence of 48-byte records, each a
# trap argument block [function, reserved, arg0, arg1, arg2, arg3] (six
# little-endian uint64). For each record the driver
#   - makes the trap with %edi pointing at a copy of the record, or, when
#     the function word is "Call" (0x6c6c6143, not a trap function), calls
#     the 32-byte aligned sandbox address arg0 with the sandboxed call
#     sequence (for code made executable by TrapJail, or a trampoline
#     slot), or, when it is "Trap" (0x70617254), makes the trap with %edi
#     = arg0 (an argument block anywhere, or none: 0);
#   - writes the result (%rax as a signed 64-bit decimal number and "\n")
#     to channel 1 (stdout) with one TrapWrite.
# A short or failed read of the script ends the program with TrapExit(0).
#
# Memory map of this program (the conformance cases rely on it): text at
# 0x20000, no rodata, data+bss at 0x30000 (the record, the control block
# and the line buffer, less than 64 KiB), so the heap starts at 0x40000.
# Nothing above the entry %rsp is ever written: the 56-byte entry block at
# 0xFFFFFFC8 stays as the runtime left it.
        .bundle_align_mode 5
        .include "conformance.inc"

        .set RECORD_SIZE, 48
        .set PSEUDO_CALL, 0x6c6c6143    # "Call"
        .set PSEUDO_TRAP, 0x70617254    # "Trap"

        .text
        .globl _start
        .p2align 5
_start:
next:
        # TrapRead(0, record, 48, 0)
        lea record(%rip), %rax
        mov %eax, %eax
        movq $TRAP_READ, io(%rip)
        movq $0, io+8(%rip)
        movq $0, io+16(%rip)
        mov %rax, io+24(%rip)
        movq $RECORD_SIZE, io+32(%rip)
        movq $0, io+40(%rip)
        trap_at io
        cmp $RECORD_SIZE, %rax
        jne finish

        mov record(%rip), %rax
        cmp $PSEUDO_CALL, %rax
        je call_target
        cmp $PSEUDO_TRAP, %rax
        je trap_elsewhere
        trap_at record
        jmp print

trap_elsewhere:
        mov record+16(%rip), %edi
        trap_call
        jmp print

call_target:
        mov record+16(%rip), %eax
        .bundle_lock align_to_end
        and $-32, %eax
        add %r15, %rax
        call *%rax
        .bundle_unlock

print:
        # %rax as signed decimal, written backwards from line_end
        mov %rax, %r8
        lea line_end(%rip), %rcx
        mov %ecx, %ecx
        mov %ecx, %r13d                 # one past the last character
        dec %ecx
        put_byte $10, %rcx, %ecx
        mov %r8, %rax
        test %rax, %rax
        jns digits_start
        neg %rax                        # INT64_MIN stays 2^63 as unsigned: right
digits_start:
        mov $10, %r9d
digit:
        xor %edx, %edx
        div %r9
        add $48, %edx                   # '0' + digit
        dec %ecx
        put_byte %dl, %rcx, %ecx
        test %rax, %rax
        jnz digit
        test %r8, %r8
        jns line_ready
        dec %ecx
        put_byte $45, %rcx, %ecx        # '-'
line_ready:
        sub %ecx, %r13d                 # length
        movq $TRAP_WRITE, io(%rip)
        movq $0, io+8(%rip)
        movq $1, io+16(%rip)
        mov %rcx, io+24(%rip)
        mov %r13, io+32(%rip)
        movq $0, io+40(%rip)
        trap_at io
        jmp next

finish:
        exit_with $0

        .bss
        .p2align 5
record:
        .zero RECORD_SIZE
io:
        .zero 48
line:
        .zero 32
line_end:
