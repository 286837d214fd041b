# patch: random access to a file channel. Writes "ZeroVM" at byte offset 4
# of /dev/data (channel 3, type 3: random reads and random writes), then
# reads the file's first 16 bytes back from offset 0 and copies what it got
# to stdout. Exits with 0, or 1 when a trap fails.
#
# The manifest names the channel (channels after the standard three are
# numbered in the byte order of their aliases, so the only other one,
# /dev/data, is channel 3; see spec/runtime.md, "Channels"):
#   Channel = data.bin, /dev/data, 3, 0, 99, 99, 99, 99
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .set DATA_CHANNEL, 3
        .set PATCH_OFFSET, 4
        .set READ_SIZE, 16

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp                   # the trap argument block
        add %r15, %rsp
        .bundle_unlock

        # TrapWrite(3, patch, 6, 4): a positional write
        movq $TRAP_WRITE, (%rsp)
        movq $0, 8(%rsp)
        movq $DATA_CHANNEL, 16(%rsp)
        lea patch(%rip), %rax
        mov %eax, %eax
        mov %rax, 24(%rsp)
        movq $patch_length, 32(%rsp)
        movq $PATCH_OFFSET, 40(%rsp)
        mov %esp, %edi
        trap_call
        cmp $patch_length, %eax
        jne failed

        # TrapRead(3, buffer, 16, 0): a positional read of the patched bytes
        movq $TRAP_READ, (%rsp)
        lea buffer(%rip), %rax
        mov %eax, %eax
        mov %rax, 24(%rsp)
        movq $READ_SIZE, 32(%rsp)
        movq $0, 40(%rsp)
        mov %esp, %edi
        trap_call
        test %eax, %eax
        js failed

        # TrapWrite(1, buffer, bytes read, 0) to stdout
        movq $TRAP_WRITE, (%rsp)
        movq $1, 16(%rsp)
        mov %rax, 32(%rsp)              # the buffer is still at 24(%rsp)
        mov %esp, %edi
        trap_call
        test %eax, %eax
        js failed

        movq $0, 16(%rsp)
        jmp finish
failed:
        movq $1, 16(%rsp)
finish:
        trap_exit

        .section .rodata
patch:
        .ascii "ZeroVM"
        .set patch_length, . - patch

        .bss
        .p2align 5
buffer:
        .zero READ_SIZE
