/**
 * Legacy-encoded MMX forms: the NP 0F 60-7F and D0-FF integer instructions
 * on mmx registers, the MMX extensions that came with SSE / AMD's extended
 * MMX (pshufw, pinsrw, pextrw, pmovmskb, pavgb, movntq, ...), emms, the SSE2
 * additions on mmx registers (paddq, psubq, pmuludq), and the SSSE3 mmx forms
 * in 0F 38 and 0F 3A (pshufb mm, palignr mm, ...).
 *
 * Grammar: see `grammar.ts`. Every line has the NP token: with a 66 prefix
 * the same opcode is the SSE2 xmm form (`sse0f.ts`, `sse0f38.ts`, ...).
 * Conversions between mmx and xmm registers (cvtpi2ps, movdq2q, ...) are in
 * `sse0f.ts`; 3DNow! and femms are in `amd3dnow.ts`.
 *
 * Sandbox notes:
 * - General registers written (movd/movq to a GPR, pextrw, pmovmskb) are
 *   marked `=`. Only `movd` to a 32-bit register zero-extends in NaCl's
 *   sense (`zx`); pextrw and pmovmskb deliberately do not, as mmx registers
 *   are not meant to hold addresses.
 * - `maskmovq` writes to ds:(%rdi); it is accepted only inside the
 *   rdi-sandboxing superinstruction (`deny=special`).
 */
export const MMX_TABLE = { name: 'mmx', file: 'mmx.ts', line: 21, text: String.raw`
# ---- NP 0F 60-7F ---------------------------------------------------------------------
# The low-half unpacks read only 32 bits from memory.
NP 0F 60 /r    | punpcklbw &Pq, Qd     | MMX |
NP 0F 61 /r    | punpcklwd &Pq, Qd     | MMX |
NP 0F 62 /r    | punpckldq &Pq, Qd     | MMX |
NP 0F 63 /r    | packsswb &Pq, Qq      | MMX |
NP 0F 64 /r    | pcmpgtb &Pq, Qq       | MMX |
NP 0F 65 /r    | pcmpgtw &Pq, Qq       | MMX |
NP 0F 66 /r    | pcmpgtd &Pq, Qq       | MMX |
NP 0F 67 /r    | packuswb &Pq, Qq      | MMX |
NP 0F 68 /r    | punpckhbw &Pq, Qq     | MMX |
NP 0F 69 /r    | punpckhwd &Pq, Qq     | MMX |
NP 0F 6A /r    | punpckhdq &Pq, Qq     | MMX |
NP 0F 6B /r    | packssdw &Pq, Qq      | MMX |
# movd/movq between mmx and general registers: REX.W selects the 64-bit movq.
NP 0F 6E /r W0 | movd =Pq, Ed         | MMX |
NP 0F 6E /r W1 | movq =Pq, Eq         | MMX |
NP 0F 6F /r    | movq =Pq, Qq          | MMX |
NP 0F 70 /r    | pshufw =Pq, Qq, Ib    | EMMX |
NP 0F 71 /2    | psrlw &Nq, Ib         | MMX |
NP 0F 71 /4    | psraw &Nq, Ib         | MMX |
NP 0F 71 /6    | psllw &Nq, Ib         | MMX |
NP 0F 72 /2    | psrld &Nq, Ib         | MMX |
NP 0F 72 /4    | psrad &Nq, Ib         | MMX |
NP 0F 72 /6    | pslld &Nq, Ib         | MMX |
NP 0F 73 /2    | psrlq &Nq, Ib         | MMX |
NP 0F 73 /6    | psllq &Nq, Ib         | MMX |
NP 0F 74 /r    | pcmpeqb &Pq, Qq       | MMX |
NP 0F 75 /r    | pcmpeqw &Pq, Qq       | MMX |
NP 0F 76 /r    | pcmpeqd &Pq, Qq       | MMX |
NP 0F 77       | emms                  | MMX |
NP 0F 7E /r W0 | movd =Ed, Pq         | MMX | zx
NP 0F 7E /r W1 | movq =Eq, Pq         | MMX |
NP 0F 7F /r    | movq =Qq, Pq          | MMX |

# ---- NP 0F C4-C5, D0-FF ---------------------------------------------------------------
NP 0F C4 /r    | pinsrw &Pq, Ry, Ib    | EMMX |
NP 0F C4 /r    | pinsrw &Pq, Mw, Ib    | EMMX |
NP 0F C5 /r    | pextrw =Gy, Nq, Ib    | EMMX |
NP 0F D1 /r    | psrlw &Pq, Qq         | MMX |
NP 0F D2 /r    | psrld &Pq, Qq         | MMX |
NP 0F D3 /r    | psrlq &Pq, Qq         | MMX |
NP 0F D4 /r    | paddq &Pq, Qq         | SSE2 |
NP 0F D5 /r    | pmullw &Pq, Qq        | MMX |
NP 0F D7 /r    | pmovmskb =Gy, Nq      | EMMX |
NP 0F D8 /r    | psubusb &Pq, Qq       | MMX |
NP 0F D9 /r    | psubusw &Pq, Qq       | MMX |
NP 0F DA /r    | pminub &Pq, Qq        | EMMX |
NP 0F DB /r    | pand &Pq, Qq          | MMX |
NP 0F DC /r    | paddusb &Pq, Qq       | MMX |
NP 0F DD /r    | paddusw &Pq, Qq       | MMX |
NP 0F DE /r    | pmaxub &Pq, Qq        | EMMX |
NP 0F DF /r    | pandn &Pq, Qq         | MMX |
NP 0F E0 /r    | pavgb &Pq, Qq         | EMMX |
NP 0F E1 /r    | psraw &Pq, Qq         | MMX |
NP 0F E2 /r    | psrad &Pq, Qq         | MMX |
NP 0F E3 /r    | pavgw &Pq, Qq         | EMMX |
NP 0F E4 /r    | pmulhuw &Pq, Qq       | EMMX |
NP 0F E5 /r    | pmulhw &Pq, Qq        | MMX |
NP 0F E7 /r    | movntq =Mq, Pq        | EMMX |
NP 0F E8 /r    | psubsb &Pq, Qq        | MMX |
NP 0F E9 /r    | psubsw &Pq, Qq        | MMX |
NP 0F EA /r    | pminsw &Pq, Qq        | EMMX |
NP 0F EB /r    | por &Pq, Qq           | MMX |
NP 0F EC /r    | paddsb &Pq, Qq        | MMX |
NP 0F ED /r    | paddsw &Pq, Qq        | MMX |
NP 0F EE /r    | pmaxsw &Pq, Qq        | EMMX |
NP 0F EF /r    | pxor &Pq, Qq          | MMX |
NP 0F F1 /r    | psllw &Pq, Qq         | MMX |
NP 0F F2 /r    | pslld &Pq, Qq         | MMX |
NP 0F F3 /r    | psllq &Pq, Qq         | MMX |
NP 0F F4 /r    | pmuludq &Pq, Qq       | SSE2 |
NP 0F F5 /r    | pmaddwd &Pq, Qq       | MMX |
NP 0F F6 /r    | psadbw &Pq, Qq        | EMMX |
# Writes ds:(%rdi): only inside "mov %edi,%edi; lea (%r15,%rdi),%rdi; maskmovq".
NP 0F F7 /r    | maskmovq Pq, Nq       | EMMX | deny=special
NP 0F F8 /r    | psubb &Pq, Qq         | MMX |
NP 0F F9 /r    | psubw &Pq, Qq         | MMX |
NP 0F FA /r    | psubd &Pq, Qq         | MMX |
NP 0F FB /r    | psubq &Pq, Qq         | SSE2 |
NP 0F FC /r    | paddb &Pq, Qq         | MMX |
NP 0F FD /r    | paddw &Pq, Qq         | MMX |
NP 0F FE /r    | paddd &Pq, Qq         | MMX |

# ---- SSSE3 on mmx registers: NP 0F 38 xx, NP 0F 3A 0F ------------------------------
NP 0F 38 00 /r | pshufb &Pq, Qq        | SSSE3 |
NP 0F 38 01 /r | phaddw &Pq, Qq        | SSSE3 |
NP 0F 38 02 /r | phaddd &Pq, Qq        | SSSE3 |
NP 0F 38 03 /r | phaddsw &Pq, Qq       | SSSE3 |
NP 0F 38 04 /r | pmaddubsw &Pq, Qq     | SSSE3 |
NP 0F 38 05 /r | phsubw &Pq, Qq        | SSSE3 |
NP 0F 38 06 /r | phsubd &Pq, Qq        | SSSE3 |
NP 0F 38 07 /r | phsubsw &Pq, Qq       | SSSE3 |
NP 0F 38 08 /r | psignb &Pq, Qq        | SSSE3 |
NP 0F 38 09 /r | psignw &Pq, Qq        | SSSE3 |
NP 0F 38 0A /r | psignd &Pq, Qq        | SSSE3 |
NP 0F 38 0B /r | pmulhrsw &Pq, Qq      | SSSE3 |
NP 0F 38 1C /r | pabsb =Pq, Qq         | SSSE3 |
NP 0F 38 1D /r | pabsw =Pq, Qq         | SSSE3 |
NP 0F 38 1E /r | pabsd =Pq, Qq         | SSSE3 |
NP 0F 3A 0F /r | palignr &Pq, Qq, Ib   | SSSE3 |
` };
