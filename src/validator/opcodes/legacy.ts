/**
 * The one-byte opcode map (general-purpose instructions), 64-bit mode.
 *
 * Grammar: see `grammar.ts`. Opcodes that are invalid in 64-bit mode (06,
 * 07, 0E, 16, 17, 1E, 1F, 27, 2F, 37, 3F, 60-62, 82, 9A, CE, D4-D6, EA) are
 * simply absent, so the decoder reports them as undecodable. Prefix bytes
 * (26 2E 36 3E 40-4F 64-67 F0 F2 F3) and escapes (0F C4 C5 8F/1-7) are
 * handled by the decoder, not listed here.
 *
 * Sandbox notes, per line where it matters:
 * - `zx`: NaCl's list of instructions whose 32-bit result may be used as a
 *   restricted (zero-extended) index. adc/sbb are left out on purpose (a
 *   carry is never needed to compute an address), as are mul/div (never
 *   allowed by NaCl) and cmov (kept out "just in case" by NaCl).
 * - String instructions, `ret`, indirect jumps/calls are `deny=special` or
 *   `deny=ret`: they exist in a sandbox only as superinstructions.
 */
export const LEGACY_TABLE = { name: 'legacy', file: 'legacy.ts', line: 18, text: String.raw`
# ---- arithmetic and logic: 8 forms each ----------------------------------
00 /r      | add &Eb, Gb        | - | lock zx
01 /r      | add &Ev, Gv        | - | lock zx
02 /r      | add &Gb, Eb        | - | zx
03 /r      | add &Gv, Ev        | - | zx
04         | add &AL, Ib        | - | zx
05         | add &rAX, Iz       | - | zx
08 /r      | or &Eb, Gb         | - | lock zx
09 /r      | or &Ev, Gv         | - | lock zx
0A /r      | or &Gb, Eb         | - | zx
0B /r      | or &Gv, Ev         | - | zx
0C         | or &AL, Ib         | - | zx
0D         | or &rAX, Iz        | - | zx
10 /r      | adc &Eb, Gb        | - | lock
11 /r      | adc &Ev, Gv        | - | lock
12 /r      | adc &Gb, Eb        | - |
13 /r      | adc &Gv, Ev        | - |
14         | adc &AL, Ib        | - |
15         | adc &rAX, Iz       | - |
18 /r      | sbb &Eb, Gb        | - | lock
19 /r      | sbb &Ev, Gv        | - | lock
1A /r      | sbb &Gb, Eb        | - |
1B /r      | sbb &Gv, Ev        | - |
1C         | sbb &AL, Ib        | - |
1D         | sbb &rAX, Iz       | - |
20 /r      | and &Eb, Gb        | - | lock zx
21 /r      | and &Ev, Gv        | - | lock zx
22 /r      | and &Gb, Eb        | - | zx
23 /r      | and &Gv, Ev        | - | zx
24         | and &AL, Ib        | - | zx
25         | and &rAX, Iz       | - | zx
28 /r      | sub &Eb, Gb        | - | lock zx
29 /r      | sub &Ev, Gv        | - | lock zx
2A /r      | sub &Gb, Eb        | - | zx
2B /r      | sub &Gv, Ev        | - | zx
2C         | sub &AL, Ib        | - | zx
2D         | sub &rAX, Iz       | - | zx
30 /r      | xor &Eb, Gb        | - | lock zx
31 /r      | xor &Ev, Gv        | - | lock zx
32 /r      | xor &Gb, Eb        | - | zx
33 /r      | xor &Gv, Ev        | - | zx
34         | xor &AL, Ib        | - | zx
35         | xor &rAX, Iz       | - | zx
38 /r      | cmp Eb, Gb         | - |
39 /r      | cmp Ev, Gv         | - |
3A /r      | cmp Gb, Eb         | - |
3B /r      | cmp Gv, Ev         | - |
3C         | cmp AL, Ib         | - |
3D         | cmp rAX, Iz        | - |

# ---- stack ------------------------------------------------------------------
# push/pop change %rsp implicitly by a small constant; the guard pages around
# the sandbox make that safe. "pop %rsp"/"pop %rbp"/"pop %r15" write the
# register itself and are caught by the register rules, not here.
50+r       | push Zs            | - |
58+r       | pop =Zs            | - |
68         | push Iz            | - |
6A         | push Ib            | - |
8F /0      | pop =Es            | - |
# pushf/popf: NaCl's instruction set has neither (the flags word holds the
# trap flag and, for popf, the direction flag string instructions rely on).
9C         | pushfw/pushfq      | - | deny=legacy
9D         | popfw/popfq        | - | deny=legacy
C8         | enter Iw, Ib       | - | deny=stack
C9         | leave              | - | deny=stack

# ---- moves and conversions -------------------------------------------------------
63 /r      | movsxd =Gv, Ez     | - | zx
88 /r      | mov =Eb, Gb        | - | zx
89 /r      | mov =Ev, Gv        | - | zx
8A /r      | mov =Gb, Eb        | - | zx
8B /r      | mov =Gv, Ev        | - | zx
8C /r      | mov =Mw, Sw        | - | deny=segment
8C /r      | mov =Rv, Sw        | - | deny=segment
8D /r      | lea =Gv, M         | - | noaddr zx
8E /r      | mov =Sw, Ew        | - | deny=segment
# moffs64 forms: an absolute 64-bit address can point anywhere.
A0         | mov =AL, Ob        | - | deny=legacy
A1         | mov =rAX, Ov       | - | deny=legacy
A2         | mov =Ob, AL        | - | deny=legacy
A3         | mov =Ov, rAX       | - | deny=legacy
B0+r       | mov =Zb, Ib        | - | zx
B8+r       | mov =Zv, Iv        | - | zx
C6 /0      | mov =Eb, Ib        | - | zx
C7 /0      | mov =Ev, Iz        | - | zx
98         | cbw/cwde/cdqe      | - | size66
99         | cwd/cdq/cqo        | - | size66
# ZeroVM 2015's validator refuses sahf/lahf (early x86-64 processors lacked them).
9E         | sahf               | LAHF | zerovm:deny=legacy
9F         | lahf               | LAHF | zerovm:deny=legacy

# ---- test, exchange ----------------------------------------------------------------
84 /r      | test Eb, Gb        | - |
85 /r      | test Ev, Gv        | - |
A8         | test AL, Ib        | - |
A9         | test rAX, Iz       | - |
86 /r      | xchg &Eb, &Gb      | - | lock
# Only the register form zero-extends (NaCl): with a memory operand the
# loaded value is not known to have come from a 32-bit write.
87 /r      | xchg &Rv, &Gv      | - | zx
87 /r      | xchg &Mv, &Gv      | - | lock
# 90 is nop unless REX.B selects %r8 (the decoder picks the line).
90         | nop                | - | size66
90+r       | xchg &Zv, &rAX     | - | zx
F3 90      | pause              | - | norex

# ---- group 1: immediate arithmetic ------------------------------------------------
80 /0      | add &Eb, Ib        | - | lock zx
80 /1      | or &Eb, Ib         | - | lock zx
80 /2      | adc &Eb, Ib        | - | lock
80 /3      | sbb &Eb, Ib        | - | lock
80 /4      | and &Eb, Ib        | - | lock zx
80 /5      | sub &Eb, Ib        | - | lock zx
80 /6      | xor &Eb, Ib        | - | lock zx
80 /7      | cmp Eb, Ib         | - |
81 /0      | add &Ev, Iz        | - | lock zx
81 /1      | or &Ev, Iz         | - | lock zx
81 /2      | adc &Ev, Iz        | - | lock
81 /3      | sbb &Ev, Iz        | - | lock
81 /4      | and &Ev, Iz        | - | lock zx
81 /5      | sub &Ev, Iz        | - | lock zx
81 /6      | xor &Ev, Iz        | - | lock zx
81 /7      | cmp Ev, Iz         | - |
83 /0      | add &Ev, Ib        | - | lock zx
83 /1      | or &Ev, Ib         | - | lock zx
83 /2      | adc &Ev, Ib        | - | lock
83 /3      | sbb &Ev, Ib        | - | lock
83 /4      | and &Ev, Ib        | - | lock zx
83 /5      | sub &Ev, Ib        | - | lock zx
83 /6      | xor &Ev, Ib        | - | lock zx
83 /7      | cmp Ev, Ib         | - |

# ---- group 2: shifts and rotates ------------------------------------------------
# /6 is an undocumented alias of shl; NaCl rejects it "on the grounds of
# minimalism" (nativeclient issue 2576).
C0 /0      | rol &Eb, Ib        | - |
C0 /1      | ror &Eb, Ib        | - |
C0 /2      | rcl &Eb, Ib        | - |
C0 /3      | rcr &Eb, Ib        | - |
C0 /4      | shl &Eb, Ib        | - |
C0 /5      | shr &Eb, Ib        | - |
C0 /6      | sal &Eb, Ib        | - | deny=legacy
C0 /7      | sar &Eb, Ib        | - |
C1 /0      | rol &Ev, Ib        | - |
C1 /1      | ror &Ev, Ib        | - |
C1 /2      | rcl &Ev, Ib        | - |
C1 /3      | rcr &Ev, Ib        | - |
C1 /4      | shl &Ev, Ib        | - |
C1 /5      | shr &Ev, Ib        | - |
C1 /6      | sal &Ev, Ib        | - | deny=legacy
C1 /7      | sar &Ev, Ib        | - |
D0 /0      | rol &Eb, 1         | - |
D0 /1      | ror &Eb, 1         | - |
D0 /2      | rcl &Eb, 1         | - |
D0 /3      | rcr &Eb, 1         | - |
D0 /4      | shl &Eb, 1         | - |
D0 /5      | shr &Eb, 1         | - |
D0 /6      | sal &Eb, 1         | - | deny=legacy
D0 /7      | sar &Eb, 1         | - |
D1 /0      | rol &Ev, 1         | - |
D1 /1      | ror &Ev, 1         | - |
D1 /2      | rcl &Ev, 1         | - |
D1 /3      | rcr &Ev, 1         | - |
D1 /4      | shl &Ev, 1         | - |
D1 /5      | shr &Ev, 1         | - |
D1 /6      | sal &Ev, 1         | - | deny=legacy
D1 /7      | sar &Ev, 1         | - |
D2 /0      | rol &Eb, CL        | - |
D2 /1      | ror &Eb, CL        | - |
D2 /2      | rcl &Eb, CL        | - |
D2 /3      | rcr &Eb, CL        | - |
D2 /4      | shl &Eb, CL        | - |
D2 /5      | shr &Eb, CL        | - |
D2 /6      | sal &Eb, CL        | - | deny=legacy
D2 /7      | sar &Eb, CL        | - |
D3 /0      | rol &Ev, CL        | - |
D3 /1      | ror &Ev, CL        | - |
D3 /2      | rcl &Ev, CL        | - |
D3 /3      | rcr &Ev, CL        | - |
D3 /4      | shl &Ev, CL        | - |
D3 /5      | shr &Ev, CL        | - |
D3 /6      | sal &Ev, CL        | - | deny=legacy
D3 /7      | sar &Ev, CL        | - |

# ---- group 3 ----------------------------------------------------------------------
# mul/div write rDX:rAX implicitly; NaCl never treats them as zero-extending.
F6 /0      | test Eb, Ib        | - |
F6 /1      | test Eb, Ib        | - | deny=legacy
F6 /2      | not &Eb            | - | lock zx
F6 /3      | neg &Eb            | - | lock zx
F6 /4      | mul Eb             | - |
F6 /5      | imul Eb            | - |
F6 /6      | div Eb             | - |
F6 /7      | idiv Eb            | - |
F7 /0      | test Ev, Iz        | - |
F7 /1      | test Ev, Iz        | - | deny=legacy
F7 /2      | not &Ev            | - | lock zx
F7 /3      | neg &Ev            | - | lock zx
F7 /4      | mul Ev             | - |
F7 /5      | imul Ev            | - |
F7 /6      | div Ev             | - |
F7 /7      | idiv Ev            | - |
69 /r      | imul =Gv, Ev, Iz   | - | zx
6B /r      | imul =Gv, Ev, Ib   | - | zx

# ---- group 4/5 ---
# Near indirect branches are always 64-bit in 64-bit mode (Intel ignores 66).
#-----------------------------------------------------------------
FE /0      | inc &Eb            | - | lock zx
FE /1      | dec &Eb            | - | lock zx
FF /0      | inc &Ev            | - | lock zx
FF /1      | dec &Ev            | - | lock zx
FF /2      | call Rq            | - | deny=special
FF /2      | call Mq            | - | deny=indirect
FF /3      | lcall M            | - | deny=far
FF /4      | jmp Rq             | - | deny=special
FF /4      | jmp Mq             | - | deny=indirect
FF /5      | ljmp M             | - | deny=far
FF /6      | push Es            | - |

# ---- control transfer ---------------------------------------------------------------
70+cc      | jcc Jb             | - | no66 hint
E0         | loopne Jb          | - | no66
E1         | loope Jb           | - | no66
E2         | loop Jb            | - | no66
E3         | jrcxz Jb           | - | no66 hint
E8         | call Jz            | - | no66
E9         | jmp Jz             | - | no66
EB         | jmp Jb             | - | no66
C2         | ret Iw             | - | deny=ret
C3         | ret                | - | deny=ret
CA         | retf Iw            | - | deny=far
CB         | retf               | - | deny=far
CF         | iretw/iretd/iretq  | - | deny=far
CC         | int3               | - | deny=syscall
CD         | int Ib             | - | deny=syscall
F1         | int1               | - | deny=syscall

# ---- string instructions: only inside the rsi/rdi superinstructions ---------------------
A4         | movsb Yb, Xb       | - | rep deny=special
A5         | movsw/movsd/movsq Yv, Xv | - | rep deny=special
A6         | cmpsb Xb, Yb       | - | repcc deny=special
A7         | cmpsw/cmpsd/cmpsq Xv, Yv | - | repcc deny=special
AA         | stosb Yb, AL       | - | rep deny=special
AB         | stosw/stosd/stosq Yv, rAX | - | rep deny=special
AC         | lodsb AL, Xb       | - | rep deny=special
AD         | lodsw/lodsd/lodsq rAX, Xv | - | rep deny=special
AE         | scasb AL, Yb       | - | repcc deny=special
AF         | scasw/scasd/scasq rAX, Yv | - | repcc deny=special
D7         | xlatb              | - | deny=legacy

# ---- port I/O ------------------------------------------------------------------------
6C         | insb Yb, DX        | - | rep deny=io
6D         | insw/insd/insd Yz, DX | - | rep deny=io
6E         | outsb DX, Xb       | - | rep deny=io
6F         | outsw/outsd/outsd DX, Xz | - | rep deny=io
E4         | in =AL, Ib         | - | deny=io
E5         | in =EAX, Ib        | - | deny=io
E6         | out Ib, AL         | - | deny=io
E7         | out Ib, EAX        | - | deny=io
EC         | in =AL, DX         | - | deny=io
ED         | in =EAX, DX        | - | deny=io
EE         | out DX, AL         | - | deny=io
EF         | out DX, EAX        | - | deny=io

# ---- flags and processor control ------------------------------------------------------
F4         | hlt                | - |
F5         | cmc                | - |
F8         | clc                | - |
F9         | stc                | - |
FA         | cli                | - | deny=privileged
FB         | sti                | - | deny=privileged
FC         | cld                | - |
FD         | std                | - |
9B         | fwait              | x87 |
` };
