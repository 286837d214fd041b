# jail: writes a tiny function into a 64 KiB heap block found through the
# user manifest's heap_ptr, makes it executable with TrapJail, calls it
# through the sandboxed call sequence and writes its result in decimal
# ("42\n") to stdout (channel 1); exit code 0 (1 when TrapJail refuses).
        .bundle_align_mode 5
        .include "zerovm-abi.inc"

        .set USER_MANIFEST_POINTER, 0xfefffffc   # holds the user manifest's address
        .set BLOCK_SIZE, 0x10000

        .text
        .globl _start
        .p2align 5
_start:
        .bundle_lock
        sub $48, %esp                   # the trap argument block
        add %r15, %rsp
        .bundle_unlock

        # heap_ptr: the first u32 of the user manifest, rounded up to 64 KiB
        mov $USER_MANIFEST_POINTER, %eax
        .bundle_lock
        mov %eax, %eax
        mov (%r15,%rax), %eax           # the user manifest's address
        .bundle_unlock
        .bundle_lock
        mov %eax, %eax
        mov (%r15,%rax), %eax           # heap_ptr
        .bundle_unlock
        add $BLOCK_SIZE - 1, %eax
        and $-BLOCK_SIZE, %eax
        mov %eax, %r12d                 # the block (callee-saved: kept across traps)

        # The whole block is validated: fill it with hlt first.
        mov %eax, %ecx
        lea BLOCK_SIZE(%rax), %edx
fill:
        .bundle_lock
        mov %ecx, %ecx
        movb $0xf4, (%r15,%rcx)
        .bundle_unlock
        inc %ecx
        cmp %ecx, %edx
        jne fill

        # The function's 32 bytes (one bundle) from rodata.
        mov %r12d, %ecx
        .irp offset, 0, 8, 16, 24
        mov function+\offset(%rip), %rax
        .bundle_lock
        mov %ecx, %ecx
        mov %rax, \offset(%r15,%rcx)
        .bundle_unlock
        .endr

        movq $TRAP_JAIL, (%rsp)
        movq $0, 8(%rsp)
        mov %r12, 16(%rsp)              # buffer
        movq $BLOCK_SIZE, 24(%rsp)      # size
        movq $0, 32(%rsp)
        movq $0, 40(%rsp)
        mov %esp, %edi
        trap_call
        test %eax, %eax
        jnz refused

        mov %r12d, %eax                 # call the jailed function
        .bundle_lock align_to_end
        and $-32, %eax
        add %r15, %rax
        call *%rax
        .bundle_unlock

        # its result in decimal, written backwards before "\n"
        lea text_end(%rip), %rcx
        mov %ecx, %ecx
        mov %ecx, %r13d
        dec %ecx
        .bundle_lock
        mov %ecx, %ecx
        movb $10, (%r15,%rcx)
        .bundle_unlock
        mov %eax, %eax
        mov $10, %r8d
digit:
        xor %edx, %edx
        div %r8
        add $48, %edx                   # '0' + digit
        dec %ecx
        .bundle_lock
        mov %ecx, %ecx
        mov %dl, (%r15,%rcx)
        .bundle_unlock
        test %rax, %rax
        jnz digit

        movq $TRAP_WRITE, (%rsp)
        movq $1, 16(%rsp)               # channel 1: stdout
        mov %rcx, 24(%rsp)
        sub %ecx, %r13d
        mov %r13, 32(%rsp)
        mov %esp, %edi
        trap_call
        movq $0, 16(%rsp)               # exit code 0
        jmp finish
refused:
        movq $1, 16(%rsp)
finish:
        trap_exit

        .section .rodata
        .p2align 3
function:                               # mov $42, %eax; nacl_ret; hlt padding
        .byte 0xb8, 0x2a, 0x00, 0x00, 0x00
        .byte 0x41, 0x5b                # pop %r11
        .byte 0x41, 0x83, 0xe3, 0xe0    # and $-32, %r11d
        .byte 0x4d, 0x01, 0xfb          # add %r15, %r11
        .byte 0x41, 0xff, 0xe3          # jmp *%r11
        .fill 15, 1, 0xf4               # hlt

        .bss
text:
        .zero 16
text_end:
