/**
 * Legacy-encoded (non-VEX) xmm forms of the three-byte map 0F 3A (an
 * immediate byte follows the operands), all with the mandatory 66 prefix:
 * SSSE3 palignr, SSE4.1 round/blend/insert/extract/dpps/mpsadbw, SSE4.2
 * string compares, pclmulqdq and aeskeygenassist.
 *
 * Grammar: see `grammar.ts`. The mmx form of palignr (NP 0F 3A 0F) is in
 * `mmx.ts`.
 *
 * Sandbox notes:
 * - pextrb/pextrw/pextrd/pextrq/extractps write a general register or
 *   memory (`=`); the register forms are never `zx` (xmm registers are not
 *   meant to hold addresses). Their register and memory forms have
 *   different sizes (`=Ry` vs `=Mb`), so each has two lines; REX.W selects
 *   pextrq/pinsrq on 16 and 22.
 * - pcmpestri/pcmpistri write %ecx and pcmpestrm/pcmpistrm %xmm0
 *   implicitly; rcx is an ordinary register for the sandbox.
 * - aeskeygenassist is rejected like the rest of AES-NI (see `sse0f38.ts`).
 */
export const SSE_0F3A_TABLE = { name: 'sse0f3a', file: 'sse0f3a.ts', line: 20, text: String.raw`
# ---- SSE4.1 round and blend, SSSE3 palignr --------------------------------------------
66 0F 3A 08 /r | roundps =Vdq, Wdq, Ib | SSE41 |
66 0F 3A 09 /r | roundpd =Vdq, Wdq, Ib | SSE41 |
66 0F 3A 0A /r | roundss &Vdq, Wd, Ib  | SSE41 |
66 0F 3A 0B /r | roundsd &Vdq, Wq, Ib  | SSE41 |
66 0F 3A 0C /r | blendps &Vdq, Wdq, Ib | SSE41 |
66 0F 3A 0D /r | blendpd &Vdq, Wdq, Ib | SSE41 |
66 0F 3A 0E /r | pblendw &Vdq, Wdq, Ib | SSE41 |
66 0F 3A 0F /r | palignr &Vdq, Wdq, Ib | SSSE3 |

# ---- SSE4.1 extract and insert ------------------------------------------------------------
66 0F 3A 14 /r | pextrb =Ry, Vdq, Ib   | SSE41 |
66 0F 3A 14 /r | pextrb =Mb, Vdq, Ib   | SSE41 |
66 0F 3A 15 /r | pextrw =Ry, Vdq, Ib   | SSE41 |
66 0F 3A 15 /r | pextrw =Mw, Vdq, Ib   | SSE41 |
66 0F 3A 16 /r W0 | pextrd =Ed, Vdq, Ib | SSE41 |
66 0F 3A 16 /r W1 | pextrq =Eq, Vdq, Ib | SSE41 |
66 0F 3A 17 /r | extractps =Ry, Vdq, Ib | SSE41 |
66 0F 3A 17 /r | extractps =Md, Vdq, Ib | SSE41 |
66 0F 3A 20 /r | pinsrb &Vdq, Ry, Ib   | SSE41 |
66 0F 3A 20 /r | pinsrb &Vdq, Mb, Ib   | SSE41 |
66 0F 3A 21 /r | insertps &Vdq, Wd, Ib | SSE41 |
66 0F 3A 22 /r W0 | pinsrd &Vdq, Ed, Ib | SSE41 |
66 0F 3A 22 /r W1 | pinsrq &Vdq, Eq, Ib | SSE41 |

# ---- SSE4.1 dot products, sums of absolute differences; carry-less multiply ------------
66 0F 3A 40 /r | dpps &Vdq, Wdq, Ib    | SSE41 |
66 0F 3A 41 /r | dppd &Vdq, Wdq, Ib    | SSE41 |
66 0F 3A 42 /r | mpsadbw &Vdq, Wdq, Ib | SSE41 |
66 0F 3A 44 /r | pclmulqdq &Vdq, Wdq, Ib | CLMUL | deny=unsupported

# ---- SSE4.2 string compares ------------------------------------------------------------------
66 0F 3A 60 /r | pcmpestrm Vdq, Wdq, Ib | SSE42 |
66 0F 3A 61 /r | pcmpestri Vdq, Wdq, Ib | SSE42 |
66 0F 3A 62 /r | pcmpistrm Vdq, Wdq, Ib | SSE42 |
66 0F 3A 63 /r | pcmpistri Vdq, Wdq, Ib | SSE42 |

# ---- AES-NI: rejected by NaCl ------------------------------------------------------------
66 0F 3A DF /r | aeskeygenassist =Vdq, Wdq, Ib | AES | deny=unsupported
` };
