/**
 * AMD 3DNow! and extended 3DNow!: `0F 0F /r <suffix>`, the opcode being the
 * byte after the ModRM/SIB/displacement; plus femms (0F 0E).
 *
 * Grammar: see `grammar.ts`. All forms operate on mmx registers, with a
 * 64-bit memory operand. Suffix bytes not listed here (including the
 * Cyrix/Geode pfrcpv and pfrsqrtv) do not decode.
 *
 * Sandbox notes: NaCl accepts 3DNow! and extended 3DNow! (its test corpus
 * validates pi2fd and pf2iw); no form writes a general register. The
 * 3DNow! prefetches (0F 0D) are in `system0f.ts`.
 */
export const AMD_3DNOW_TABLE = { name: 'amd3dnow', file: 'amd3dnow.ts', line: 13, text: String.raw`
0F 0E          | femms                 | 3DNOW  |

# ---- 3DNow! ---------------------------------------------------------------------------
0F 0F /r 0D    | pi2fd =Pq, Qq         | 3DNOW  |
0F 0F /r 1D    | pf2id =Pq, Qq         | 3DNOW  |
0F 0F /r 90    | pfcmpge &Pq, Qq       | 3DNOW  |
0F 0F /r 94    | pfmin &Pq, Qq         | 3DNOW  |
0F 0F /r 96    | pfrcp =Pq, Qq         | 3DNOW  |
0F 0F /r 97    | pfrsqrt =Pq, Qq       | 3DNOW  |
0F 0F /r 9A    | pfsub &Pq, Qq         | 3DNOW  |
0F 0F /r 9E    | pfadd &Pq, Qq         | 3DNOW  |
0F 0F /r A0    | pfcmpgt &Pq, Qq       | 3DNOW  |
0F 0F /r A4    | pfmax &Pq, Qq         | 3DNOW  |
0F 0F /r A6    | pfrcpit1 &Pq, Qq      | 3DNOW  |
0F 0F /r A7    | pfrsqit1 &Pq, Qq      | 3DNOW  |
0F 0F /r AA    | pfsubr &Pq, Qq        | 3DNOW  |
0F 0F /r AE    | pfacc &Pq, Qq         | 3DNOW  |
0F 0F /r B0    | pfcmpeq &Pq, Qq       | 3DNOW  |
0F 0F /r B4    | pfmul &Pq, Qq         | 3DNOW  |
0F 0F /r B6    | pfrcpit2 &Pq, Qq      | 3DNOW  |
0F 0F /r B7    | pmulhrw &Pq, Qq       | 3DNOW  |
0F 0F /r BF    | pavgusb &Pq, Qq       | 3DNOW  |

# ---- extended 3DNow! (Athlon) ------------------------------------------------------------
0F 0F /r 0C    | pi2fw =Pq, Qq         | E3DNOW |
0F 0F /r 1C    | pf2iw =Pq, Qq         | E3DNOW |
0F 0F /r 8A    | pfnacc &Pq, Qq        | E3DNOW |
0F 0F /r 8E    | pfpnacc &Pq, Qq       | E3DNOW |
0F 0F /r BB    | pswapd =Pq, Qq        | E3DNOW |
` };
