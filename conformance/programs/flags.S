# flags: sets a flag only popf can set (zerovm-ts accepts popf, NaCl's and
# ZeroVM 2015's validators do not: the cases that run this program are of
# the zerovm-ts and native-cpu profiles), selected by the first byte of
# channel 0 (stdin) (spec/runtime.md "A session, step by step", step 8):
#   t  set TF with popfq: the next instruction single-steps     SIGTRAP 5
#   a  set AC with popfq, then a misaligned load                SIGBUS 7
#                                                  (natively; see runtime.md, Engines)
# Any other byte (or an empty stdin): TrapExit(1).
        .bundle_align_mode 5
        .include "conformance.inc"

        .text
        .globl _start
        .p2align 5
_start:
        read_selector
        select 't', single_step
        select 'a', misaligned
        exit_with $1

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

        .bss
        .p2align 5
io:
        .zero 48
selector:
        .zero 8
