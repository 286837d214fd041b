/**
 * Legacy-encoded (non-VEX) SSE forms of the two-byte map (0F xx): SSE, SSE2,
 * SSE3 and AMD SSE4a, selected by the mandatory prefix NP / 66 / F2 / F3.
 *
 * Grammar: see `grammar.ts`. xmm operands are 128-bit (`dq`); scalar and
 * half-register memory operands carry their real size (`movss =Vdq, Wd`:
 * an xmm register or a 32-bit memory operand). Forms that allow only memory
 * or only a register use M / U (`movlps` vs `movhlps` share NP 0F 12).
 * Pure MMX forms (NP, mmx operands only) are in `mmx.ts`; the conversions
 * between mmx and xmm registers (cvtpi2ps, cvtps2pi, movdq2q, ...) are here,
 * next to their opcode neighbours.
 *
 * Sandbox notes (NaCl's xmm_instructions.def / mmx_instructions.def and its
 * validator test corpus are the reference for what is allowed):
 * - Every general register an instruction writes is marked `=` (cvt*2si,
 *   movmskps, pmovmskb, pextrw, movd/movq to a GPR): the validator checks
 *   writes to %r15, %rsp and %rbp.
 * - Only `movd` to a 32-bit register zero-extends in NaCl's sense (`zx`);
 *   pextrw, pmovmskb, movmskps and the cvt*2si forms are deliberately not,
 *   since xmm registers are not meant to hold addresses.
 * - `maskmovdqu` writes to ds:(%rdi); it is accepted only inside the
 *   rdi-sandboxing superinstruction (`deny=special`).
 * - The three-operand SSE4a `extrq $i,$j,%xmm` (66 0F 78 /0) is safe but was
 *   never accepted by NaCl (its reference disassembler did not know it).
 * - The compare predicates of cmpps/cmppd/cmpss/cmpsd are just the
 *   immediate byte; every value is accepted.
 */
export const SSE_0F_TABLE = { name: 'sse0f', file: 'sse0f.ts', line: 28, text: String.raw`
# ---- 0F 10-17: moves --------------------------------------------------------------
NP 0F 10 /r   | movups =Vdq, Wdq       | SSE  |
66 0F 10 /r   | movupd =Vdq, Wdq       | SSE2 |
F3 0F 10 /r   | movss &Vdq, Wd         | SSE  |
F2 0F 10 /r   | movsd &Vdq, Wq         | SSE2 |
NP 0F 11 /r   | movups =Wdq, Vdq       | SSE  |
66 0F 11 /r   | movupd =Wdq, Vdq       | SSE2 |
F3 0F 11 /r   | movss =Wd, Vdq         | SSE  |
F2 0F 11 /r   | movsd =Wq, Vdq         | SSE2 |
NP 0F 12 /r   | movlps &Vdq, Mq        | SSE  |
NP 0F 12 /r   | movhlps &Vdq, Udq      | SSE  |
66 0F 12 /r   | movlpd &Vdq, Mq        | SSE2 |
F3 0F 12 /r   | movsldup =Vdq, Wdq     | SSE3 |
F2 0F 12 /r   | movddup =Vdq, Wq       | SSE3 |
NP 0F 13 /r   | movlps =Mq, Vdq        | SSE  |
66 0F 13 /r   | movlpd =Mq, Vdq        | SSE2 |
NP 0F 14 /r   | unpcklps &Vdq, Wdq     | SSE  |
66 0F 14 /r   | unpcklpd &Vdq, Wdq     | SSE2 |
NP 0F 15 /r   | unpckhps &Vdq, Wdq     | SSE  |
66 0F 15 /r   | unpckhpd &Vdq, Wdq     | SSE2 |
NP 0F 16 /r   | movhps &Vdq, Mq        | SSE  |
NP 0F 16 /r   | movlhps &Vdq, Udq      | SSE  |
66 0F 16 /r   | movhpd &Vdq, Mq        | SSE2 |
F3 0F 16 /r   | movshdup =Vdq, Wdq     | SSE3 |
NP 0F 17 /r   | movhps =Mq, Vdq        | SSE  |
66 0F 17 /r   | movhpd =Mq, Vdq        | SSE2 |

# ---- 0F 28-2F: aligned moves, conversions, non-temporal stores, compares ------------
NP 0F 28 /r   | movaps =Vdq, Wdq       | SSE  |
66 0F 28 /r   | movapd =Vdq, Wdq       | SSE2 |
NP 0F 29 /r   | movaps =Wdq, Vdq       | SSE  |
66 0F 29 /r   | movapd =Wdq, Vdq       | SSE2 |
NP 0F 2A /r   | cvtpi2ps &Vdq, Qq      | SSE  |
66 0F 2A /r   | cvtpi2pd =Vdq, Qq      | SSE2 |
F3 0F 2A /r   | cvtsi2ss &Vdq, Ey      | SSE  |
F2 0F 2A /r   | cvtsi2sd &Vdq, Ey      | SSE2 |
NP 0F 2B /r   | movntps =Mdq, Vdq      | SSE  |
66 0F 2B /r   | movntpd =Mdq, Vdq      | SSE2 |
F3 0F 2B /r   | movntss =Md, Vdq       | SSE4A |
F2 0F 2B /r   | movntsd =Mq, Vdq       | SSE4A |
NP 0F 2C /r   | cvttps2pi =Pq, Wq      | SSE  |
66 0F 2C /r   | cvttpd2pi =Pq, Wdq     | SSE2 |
F3 0F 2C /r   | cvttss2si =Gy, Wd      | SSE  |
F2 0F 2C /r   | cvttsd2si =Gy, Wq      | SSE2 |
NP 0F 2D /r   | cvtps2pi =Pq, Wq       | SSE  |
66 0F 2D /r   | cvtpd2pi =Pq, Wdq      | SSE2 |
F3 0F 2D /r   | cvtss2si =Gy, Wd       | SSE  |
F2 0F 2D /r   | cvtsd2si =Gy, Wq       | SSE2 |
NP 0F 2E /r   | ucomiss Vdq, Wd        | SSE  |
66 0F 2E /r   | ucomisd Vdq, Wq        | SSE2 |
NP 0F 2F /r   | comiss Vdq, Wd         | SSE  |
66 0F 2F /r   | comisd Vdq, Wq         | SSE2 |

# ---- 0F 50-5F: packed and scalar floating point ---------------------------------------
NP 0F 50 /r   | movmskps =Gy, Udq      | SSE  |
66 0F 50 /r   | movmskpd =Gy, Udq      | SSE2 |
NP 0F 51 /r   | sqrtps =Vdq, Wdq       | SSE  |
66 0F 51 /r   | sqrtpd =Vdq, Wdq       | SSE2 |
F3 0F 51 /r   | sqrtss &Vdq, Wd        | SSE  |
F2 0F 51 /r   | sqrtsd &Vdq, Wq        | SSE2 |
NP 0F 52 /r   | rsqrtps =Vdq, Wdq      | SSE  |
F3 0F 52 /r   | rsqrtss &Vdq, Wd       | SSE  |
NP 0F 53 /r   | rcpps =Vdq, Wdq        | SSE  |
F3 0F 53 /r   | rcpss &Vdq, Wd         | SSE  |
NP 0F 54 /r   | andps &Vdq, Wdq        | SSE  |
66 0F 54 /r   | andpd &Vdq, Wdq        | SSE2 |
NP 0F 55 /r   | andnps &Vdq, Wdq       | SSE  |
66 0F 55 /r   | andnpd &Vdq, Wdq       | SSE2 |
NP 0F 56 /r   | orps &Vdq, Wdq         | SSE  |
66 0F 56 /r   | orpd &Vdq, Wdq         | SSE2 |
NP 0F 57 /r   | xorps &Vdq, Wdq        | SSE  |
66 0F 57 /r   | xorpd &Vdq, Wdq        | SSE2 |
NP 0F 58 /r   | addps &Vdq, Wdq        | SSE  |
66 0F 58 /r   | addpd &Vdq, Wdq        | SSE2 |
F3 0F 58 /r   | addss &Vdq, Wd         | SSE  |
F2 0F 58 /r   | addsd &Vdq, Wq         | SSE2 |
NP 0F 59 /r   | mulps &Vdq, Wdq        | SSE  |
66 0F 59 /r   | mulpd &Vdq, Wdq        | SSE2 |
F3 0F 59 /r   | mulss &Vdq, Wd         | SSE  |
F2 0F 59 /r   | mulsd &Vdq, Wq         | SSE2 |
NP 0F 5A /r   | cvtps2pd =Vdq, Wq      | SSE2 |
66 0F 5A /r   | cvtpd2ps =Vdq, Wdq     | SSE2 |
F3 0F 5A /r   | cvtss2sd &Vdq, Wd      | SSE2 |
F2 0F 5A /r   | cvtsd2ss &Vdq, Wq      | SSE2 |
NP 0F 5B /r   | cvtdq2ps =Vdq, Wdq     | SSE2 |
66 0F 5B /r   | cvtps2dq =Vdq, Wdq     | SSE2 |
F3 0F 5B /r   | cvttps2dq =Vdq, Wdq    | SSE2 |
NP 0F 5C /r   | subps &Vdq, Wdq        | SSE  |
66 0F 5C /r   | subpd &Vdq, Wdq        | SSE2 |
F3 0F 5C /r   | subss &Vdq, Wd         | SSE  |
F2 0F 5C /r   | subsd &Vdq, Wq         | SSE2 |
NP 0F 5D /r   | minps &Vdq, Wdq        | SSE  |
66 0F 5D /r   | minpd &Vdq, Wdq        | SSE2 |
F3 0F 5D /r   | minss &Vdq, Wd         | SSE  |
F2 0F 5D /r   | minsd &Vdq, Wq         | SSE2 |
NP 0F 5E /r   | divps &Vdq, Wdq        | SSE  |
66 0F 5E /r   | divpd &Vdq, Wdq        | SSE2 |
F3 0F 5E /r   | divss &Vdq, Wd         | SSE  |
F2 0F 5E /r   | divsd &Vdq, Wq         | SSE2 |
NP 0F 5F /r   | maxps &Vdq, Wdq        | SSE  |
66 0F 5F /r   | maxpd &Vdq, Wdq        | SSE2 |
F3 0F 5F /r   | maxss &Vdq, Wd         | SSE  |
F2 0F 5F /r   | maxsd &Vdq, Wq         | SSE2 |

# ---- 66 0F 60-7F: SSE2 integer ----------------------------------------------------------
66 0F 60 /r   | punpcklbw &Vdq, Wdq    | SSE2 |
66 0F 61 /r   | punpcklwd &Vdq, Wdq    | SSE2 |
66 0F 62 /r   | punpckldq &Vdq, Wdq    | SSE2 |
66 0F 63 /r   | packsswb &Vdq, Wdq     | SSE2 |
66 0F 64 /r   | pcmpgtb &Vdq, Wdq      | SSE2 |
66 0F 65 /r   | pcmpgtw &Vdq, Wdq      | SSE2 |
66 0F 66 /r   | pcmpgtd &Vdq, Wdq      | SSE2 |
66 0F 67 /r   | packuswb &Vdq, Wdq     | SSE2 |
66 0F 68 /r   | punpckhbw &Vdq, Wdq    | SSE2 |
66 0F 69 /r   | punpckhwd &Vdq, Wdq    | SSE2 |
66 0F 6A /r   | punpckhdq &Vdq, Wdq    | SSE2 |
66 0F 6B /r   | packssdw &Vdq, Wdq     | SSE2 |
66 0F 6C /r   | punpcklqdq &Vdq, Wdq   | SSE2 |
66 0F 6D /r   | punpckhqdq &Vdq, Wdq   | SSE2 |
# movd/movq between xmm and general registers: REX.W selects the 64-bit movq.
66 0F 6E /r W0 | movd =Vdq, Ed        | SSE2 |
66 0F 6E /r W1 | movq =Vdq, Eq        | SSE2 |
66 0F 6F /r   | movdqa =Vdq, Wdq       | SSE2 |
F3 0F 6F /r   | movdqu =Vdq, Wdq       | SSE2 |
66 0F 70 /r   | pshufd =Vdq, Wdq, Ib   | SSE2 |
F3 0F 70 /r   | pshufhw =Vdq, Wdq, Ib  | SSE2 |
F2 0F 70 /r   | pshuflw =Vdq, Wdq, Ib  | SSE2 |
66 0F 71 /2   | psrlw &Udq, Ib         | SSE2 |
66 0F 71 /4   | psraw &Udq, Ib         | SSE2 |
66 0F 71 /6   | psllw &Udq, Ib         | SSE2 |
66 0F 72 /2   | psrld &Udq, Ib         | SSE2 |
66 0F 72 /4   | psrad &Udq, Ib         | SSE2 |
66 0F 72 /6   | pslld &Udq, Ib         | SSE2 |
66 0F 73 /2   | psrlq &Udq, Ib         | SSE2 |
66 0F 73 /3   | psrldq &Udq, Ib        | SSE2 |
66 0F 73 /6   | psllq &Udq, Ib         | SSE2 |
66 0F 73 /7   | pslldq &Udq, Ib        | SSE2 |
66 0F 74 /r   | pcmpeqb &Vdq, Wdq      | SSE2 |
66 0F 75 /r   | pcmpeqw &Vdq, Wdq      | SSE2 |
66 0F 76 /r   | pcmpeqd &Vdq, Wdq      | SSE2 |
# SSE4a bit-field extract/insert: register operands only.
66 0F 78 /0   | extrq &Udq, Ib, Ib     | SSE4A | deny=unknown
F2 0F 78 /r   | insertq &Vdq, Udq, Ib, Ib | SSE4A |
66 0F 79 /r   | extrq &Vdq, Udq        | SSE4A |
F2 0F 79 /r   | insertq &Vdq, Udq      | SSE4A |
66 0F 7C /r   | haddpd &Vdq, Wdq       | SSE3 |
F2 0F 7C /r   | haddps &Vdq, Wdq       | SSE3 |
66 0F 7D /r   | hsubpd &Vdq, Wdq       | SSE3 |
F2 0F 7D /r   | hsubps &Vdq, Wdq       | SSE3 |
66 0F 7E /r W0 | movd =Ed, Vdq        | SSE2 | zx
66 0F 7E /r W1 | movq =Eq, Vdq        | SSE2 |
F3 0F 7E /r   | movq =Vdq, Wq          | SSE2 |
66 0F 7F /r   | movdqa =Wdq, Vdq       | SSE2 |
F3 0F 7F /r   | movdqu =Wdq, Vdq       | SSE2 |

# ---- 0F C2-C6 ----------------------------------------------------------------------------
NP 0F C2 /r   | cmpps &Vdq, Wdq, Ib    | SSE  |
66 0F C2 /r   | cmppd &Vdq, Wdq, Ib    | SSE2 |
F3 0F C2 /r   | cmpss &Vdq, Wd, Ib     | SSE  |
F2 0F C2 /r   | cmpsd &Vdq, Wq, Ib     | SSE2 |
NP 0F C3 /r   | movnti =My, Gy         | SSE2 |
66 0F C4 /r   | pinsrw &Vdq, Ry, Ib    | SSE2 |
66 0F C4 /r   | pinsrw &Vdq, Mw, Ib    | SSE2 |
66 0F C5 /r   | pextrw =Gy, Udq, Ib    | SSE2 |
NP 0F C6 /r   | shufps &Vdq, Wdq, Ib   | SSE  |
66 0F C6 /r   | shufpd &Vdq, Wdq, Ib   | SSE2 |

# ---- 0F D0-FF: SSE2 integer, SSE3 -----------------------------------------------------
66 0F D0 /r   | addsubpd &Vdq, Wdq     | SSE3 |
F2 0F D0 /r   | addsubps &Vdq, Wdq     | SSE3 |
66 0F D1 /r   | psrlw &Vdq, Wdq        | SSE2 |
66 0F D2 /r   | psrld &Vdq, Wdq        | SSE2 |
66 0F D3 /r   | psrlq &Vdq, Wdq        | SSE2 |
66 0F D4 /r   | paddq &Vdq, Wdq        | SSE2 |
66 0F D5 /r   | pmullw &Vdq, Wdq       | SSE2 |
66 0F D6 /r   | movq =Wq, Vdq          | SSE2 |
F3 0F D6 /r   | movq2dq =Vdq, Nq       | SSE2 |
F2 0F D6 /r   | movdq2q =Pq, Udq       | SSE2 |
66 0F D7 /r   | pmovmskb =Gy, Udq      | SSE2 |
66 0F D8 /r   | psubusb &Vdq, Wdq      | SSE2 |
66 0F D9 /r   | psubusw &Vdq, Wdq      | SSE2 |
66 0F DA /r   | pminub &Vdq, Wdq       | SSE2 |
66 0F DB /r   | pand &Vdq, Wdq         | SSE2 |
66 0F DC /r   | paddusb &Vdq, Wdq      | SSE2 |
66 0F DD /r   | paddusw &Vdq, Wdq      | SSE2 |
66 0F DE /r   | pmaxub &Vdq, Wdq       | SSE2 |
66 0F DF /r   | pandn &Vdq, Wdq        | SSE2 |
66 0F E0 /r   | pavgb &Vdq, Wdq        | SSE2 |
66 0F E1 /r   | psraw &Vdq, Wdq        | SSE2 |
66 0F E2 /r   | psrad &Vdq, Wdq        | SSE2 |
66 0F E3 /r   | pavgw &Vdq, Wdq        | SSE2 |
66 0F E4 /r   | pmulhuw &Vdq, Wdq      | SSE2 |
66 0F E5 /r   | pmulhw &Vdq, Wdq       | SSE2 |
66 0F E6 /r   | cvttpd2dq =Vdq, Wdq    | SSE2 |
F3 0F E6 /r   | cvtdq2pd =Vdq, Wq      | SSE2 |
F2 0F E6 /r   | cvtpd2dq =Vdq, Wdq     | SSE2 |
66 0F E7 /r   | movntdq =Mdq, Vdq      | SSE2 |
66 0F E8 /r   | psubsb &Vdq, Wdq       | SSE2 |
66 0F E9 /r   | psubsw &Vdq, Wdq       | SSE2 |
66 0F EA /r   | pminsw &Vdq, Wdq       | SSE2 |
66 0F EB /r   | por &Vdq, Wdq          | SSE2 |
66 0F EC /r   | paddsb &Vdq, Wdq       | SSE2 |
66 0F ED /r   | paddsw &Vdq, Wdq       | SSE2 |
66 0F EE /r   | pmaxsw &Vdq, Wdq       | SSE2 |
66 0F EF /r   | pxor &Vdq, Wdq         | SSE2 |
F2 0F F0 /r   | lddqu =Vdq, Mdq        | SSE3 |
66 0F F1 /r   | psllw &Vdq, Wdq        | SSE2 |
66 0F F2 /r   | pslld &Vdq, Wdq        | SSE2 |
66 0F F3 /r   | psllq &Vdq, Wdq        | SSE2 |
66 0F F4 /r   | pmuludq &Vdq, Wdq      | SSE2 |
66 0F F5 /r   | pmaddwd &Vdq, Wdq      | SSE2 |
66 0F F6 /r   | psadbw &Vdq, Wdq       | SSE2 |
# Writes ds:(%rdi): only inside "mov %edi,%edi; lea (%r15,%rdi),%rdi; maskmovdqu".
66 0F F7 /r   | maskmovdqu Vdq, Udq    | SSE2 | deny=special
66 0F F8 /r   | psubb &Vdq, Wdq        | SSE2 |
66 0F F9 /r   | psubw &Vdq, Wdq        | SSE2 |
66 0F FA /r   | psubd &Vdq, Wdq        | SSE2 |
66 0F FB /r   | psubq &Vdq, Wdq        | SSE2 |
66 0F FC /r   | paddb &Vdq, Wdq        | SSE2 |
66 0F FD /r   | paddw &Vdq, Wdq        | SSE2 |
66 0F FE /r   | paddd &Vdq, Wdq        | SSE2 |
` };
