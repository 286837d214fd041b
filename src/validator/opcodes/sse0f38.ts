/**
 * Legacy-encoded (non-VEX) xmm forms of the three-byte map 0F 38, all with
 * the mandatory 66 prefix: SSSE3, SSE4.1, SSE4.2 (pcmpgtq) and AES-NI.
 *
 * Grammar: see `grammar.ts`. The mmx forms of the SSSE3 instructions
 * (NP 0F 38 xx) are in `mmx.ts`; crc32 and movbe (F2 / NP 0F 38 F0-F1) are
 * general-purpose instructions in `system0f.ts`.
 *
 * Sandbox notes:
 * - pblendvb / blendvps / blendvpd read %xmm0 implicitly (`XMM0`).
 * - The pmovsx / pmovzx memory operands are only as wide as the elements
 *   they read (`Wq`, `Wd`, `Ww`).
 * - AES-NI is safe, but NaCl's validator (as its test corpus shows) rejects
 *   it: `deny=unsupported`. SHA, GFNI and ADX (adcx/adox) are not listed:
 *   NaCl does not know them and they decode as unknown instructions.
 */
export const SSE_0F38_TABLE = { name: 'sse0f38', file: 'sse0f38.ts', line: 17, text: String.raw`
# ---- SSSE3 ------------------------------------------------------------------------------
66 0F 38 00 /r | pshufb &Vdq, Wdq      | SSSE3 |
66 0F 38 01 /r | phaddw &Vdq, Wdq      | SSSE3 |
66 0F 38 02 /r | phaddd &Vdq, Wdq      | SSSE3 |
66 0F 38 03 /r | phaddsw &Vdq, Wdq     | SSSE3 |
66 0F 38 04 /r | pmaddubsw &Vdq, Wdq   | SSSE3 |
66 0F 38 05 /r | phsubw &Vdq, Wdq      | SSSE3 |
66 0F 38 06 /r | phsubd &Vdq, Wdq      | SSSE3 |
66 0F 38 07 /r | phsubsw &Vdq, Wdq     | SSSE3 |
66 0F 38 08 /r | psignb &Vdq, Wdq      | SSSE3 |
66 0F 38 09 /r | psignw &Vdq, Wdq      | SSSE3 |
66 0F 38 0A /r | psignd &Vdq, Wdq      | SSSE3 |
66 0F 38 0B /r | pmulhrsw &Vdq, Wdq    | SSSE3 |
66 0F 38 1C /r | pabsb =Vdq, Wdq       | SSSE3 |
66 0F 38 1D /r | pabsw =Vdq, Wdq       | SSSE3 |
66 0F 38 1E /r | pabsd =Vdq, Wdq       | SSSE3 |

# ---- SSE4.1 -----------------------------------------------------------------------------
66 0F 38 10 /r | pblendvb &Vdq, Wdq, XMM0 | SSE41 |
66 0F 38 14 /r | blendvps &Vdq, Wdq, XMM0 | SSE41 |
66 0F 38 15 /r | blendvpd &Vdq, Wdq, XMM0 | SSE41 |
66 0F 38 17 /r | ptest Vdq, Wdq        | SSE41 |
66 0F 38 20 /r | pmovsxbw =Vdq, Wq     | SSE41 |
66 0F 38 21 /r | pmovsxbd =Vdq, Wd     | SSE41 |
66 0F 38 22 /r | pmovsxbq =Vdq, Ww     | SSE41 |
66 0F 38 23 /r | pmovsxwd =Vdq, Wq     | SSE41 |
66 0F 38 24 /r | pmovsxwq =Vdq, Wd     | SSE41 |
66 0F 38 25 /r | pmovsxdq =Vdq, Wq     | SSE41 |
66 0F 38 28 /r | pmuldq &Vdq, Wdq      | SSE41 |
66 0F 38 29 /r | pcmpeqq &Vdq, Wdq     | SSE41 |
66 0F 38 2A /r | movntdqa =Vdq, Mdq    | SSE41 |
66 0F 38 2B /r | packusdw &Vdq, Wdq    | SSE41 |
66 0F 38 30 /r | pmovzxbw =Vdq, Wq     | SSE41 |
66 0F 38 31 /r | pmovzxbd =Vdq, Wd     | SSE41 |
66 0F 38 32 /r | pmovzxbq =Vdq, Ww     | SSE41 |
66 0F 38 33 /r | pmovzxwd =Vdq, Wq     | SSE41 |
66 0F 38 34 /r | pmovzxwq =Vdq, Wd     | SSE41 |
66 0F 38 35 /r | pmovzxdq =Vdq, Wq     | SSE41 |
66 0F 38 38 /r | pminsb &Vdq, Wdq      | SSE41 |
66 0F 38 39 /r | pminsd &Vdq, Wdq      | SSE41 |
66 0F 38 3A /r | pminuw &Vdq, Wdq      | SSE41 |
66 0F 38 3B /r | pminud &Vdq, Wdq      | SSE41 |
66 0F 38 3C /r | pmaxsb &Vdq, Wdq      | SSE41 |
66 0F 38 3D /r | pmaxsd &Vdq, Wdq      | SSE41 |
66 0F 38 3E /r | pmaxuw &Vdq, Wdq      | SSE41 |
66 0F 38 3F /r | pmaxud &Vdq, Wdq      | SSE41 |
66 0F 38 40 /r | pmulld &Vdq, Wdq      | SSE41 |
66 0F 38 41 /r | phminposuw =Vdq, Wdq  | SSE41 |

# ---- SSE4.2 -----------------------------------------------------------------------------
66 0F 38 37 /r | pcmpgtq &Vdq, Wdq     | SSE42 |

# ---- AES-NI: rejected by NaCl ------------------------------------------------------------
66 0F 38 DB /r | aesimc =Vdq, Wdq      | AES | deny=unsupported
66 0F 38 DC /r | aesenc &Vdq, Wdq      | AES | deny=unsupported
66 0F 38 DD /r | aesenclast &Vdq, Wdq  | AES | deny=unsupported
66 0F 38 DE /r | aesdec &Vdq, Wdq      | AES | deny=unsupported
66 0F 38 DF /r | aesdeclast &Vdq, Wdq  | AES | deny=unsupported
` };
