/**
 * x87 floating point: the escape opcodes D8-DF, 64-bit mode.
 *
 * Grammar: see `grammar.ts`. Memory forms are selected by ModRM.reg (`/digit`)
 * with mod != 3; register forms by the whole ModRM byte (`XX` or `XX+i` for
 * the eight st(i) registers). ModRM bytes that no line covers (e.g. D9 D1,
 * D9 /1 memory) are undecodable, as on the CPU. `fwait` (9B) is its own
 * instruction in `legacy.ts`, so only the no-wait forms (fnstsw, fnsave, ...)
 * are listed here: `fstsw` is decoded as `fwait; fnstsw`.
 *
 * Sandbox notes:
 * - The x87 stack is not sandbox state: every documented x87 instruction is
 *   allowed by NaCl. Only the memory operand is checked, like any other.
 * - fldenv/fnstenv/frstor/fnsave with a 66 prefix use the 16-bit (14/94-byte)
 *   layout; NaCl rejects those (`nacl-forbidden`), hence `no66`.
 * - Undocumented aliases (D9 D8+i fstpnce, DC D0+i, DC D8+i, DD C8+i,
 *   DE D0+i, DF C0+i ffreep, DF C8+i, DF D0+i, DF D8+i) and the 8087/287
 *   leftovers that now execute as fnop (DB E0 fneni, DB E1 fndisi, DB E4
 *   fnsetpm) are listed so that instruction lengths agree with other
 *   decoders, but they are `deny=legacy`: NaCl does not know them.
 * - fcmovcc and fcomi/fcomip/fucomi/fucomip also need CMOV on real CPUs
 *   (NaCl: CPUFeature_CMOVx87); one feature per line, so they say `x87`.
 * - fisttp is SSE3 (NaCl's x87_instructions.def lists it as plain x87).
 */
export const X87_TABLE = { name: 'x87', file: 'x87.ts', line: 25, text: String.raw`
# ---- D8: single-precision arithmetic, st(0) op st(i) ---------------------------
D8 /0      | fadd Md            | x87 |
D8 /1      | fmul Md            | x87 |
D8 /2      | fcom Md            | x87 |
D8 /3      | fcomp Md           | x87 |
D8 /4      | fsub Md            | x87 |
D8 /5      | fsubr Md           | x87 |
D8 /6      | fdiv Md            | x87 |
D8 /7      | fdivr Md           | x87 |
D8 C0+i    | fadd &ST0, T       | x87 |
D8 C8+i    | fmul &ST0, T       | x87 |
D8 D0+i    | fcom ST0, T        | x87 |
D8 D8+i    | fcomp ST0, T       | x87 |
D8 E0+i    | fsub &ST0, T       | x87 |
D8 E8+i    | fsubr &ST0, T      | x87 |
D8 F0+i    | fdiv &ST0, T       | x87 |
D8 F8+i    | fdivr &ST0, T      | x87 |

# ---- D9: load/store single, control word, environment, constants, functions --------
D9 /0      | fld Md             | x87 |
D9 /2      | fst =Md            | x87 |
D9 /3      | fstp =Md           | x87 |
D9 /4      | fldenv M           | x87 | no66
D9 /5      | fldcw Mw           | x87 |
D9 /6      | fnstenv =M         | x87 | no66
D9 /7      | fnstcw =Mw         | x87 |
D9 C0+i    | fld T              | x87 |
D9 C8+i    | fxch &ST0, &T      | x87 |
D9 D0      | fnop               | x87 |
D9 D8+i    | fstpnce =T         | x87 | deny=legacy
D9 E0      | fchs               | x87 |
D9 E1      | fabs               | x87 |
D9 E4      | ftst               | x87 |
D9 E5      | fxam               | x87 |
D9 E8      | fld1               | x87 |
D9 E9      | fldl2t             | x87 |
D9 EA      | fldl2e             | x87 |
D9 EB      | fldpi              | x87 |
D9 EC      | fldlg2             | x87 |
D9 ED      | fldln2             | x87 |
D9 EE      | fldz               | x87 |
D9 F0      | f2xm1              | x87 |
D9 F1      | fyl2x              | x87 |
D9 F2      | fptan              | x87 |
D9 F3      | fpatan             | x87 |
D9 F4      | fxtract            | x87 |
D9 F5      | fprem1             | x87 |
D9 F6      | fdecstp            | x87 |
D9 F7      | fincstp            | x87 |
D9 F8      | fprem              | x87 |
D9 F9      | fyl2xp1            | x87 |
D9 FA      | fsqrt              | x87 |
D9 FB      | fsincos            | x87 |
D9 FC      | frndint            | x87 |
D9 FD      | fscale             | x87 |
D9 FE      | fsin               | x87 |
D9 FF      | fcos               | x87 |

# ---- DA: 32-bit integer arithmetic, fcmov (below/equal/unordered) -----------------
DA /0      | fiadd Md           | x87 |
DA /1      | fimul Md           | x87 |
DA /2      | ficom Md           | x87 |
DA /3      | ficomp Md          | x87 |
DA /4      | fisub Md           | x87 |
DA /5      | fisubr Md          | x87 |
DA /6      | fidiv Md           | x87 |
DA /7      | fidivr Md          | x87 |
DA C0+i    | fcmovb &ST0, T     | x87 |
DA C8+i    | fcmove &ST0, T     | x87 |
DA D0+i    | fcmovbe &ST0, T    | x87 |
DA D8+i    | fcmovu &ST0, T     | x87 |
DA E9      | fucompp            | x87 |

# ---- DB: 32-bit integer load/store, 80-bit load/store, fcmov (not), control ---------
DB /0      | fild Md            | x87 |
DB /1      | fisttp =Md         | SSE3 |
DB /2      | fist =Md           | x87 |
DB /3      | fistp =Md          | x87 |
DB /5      | fld Mt             | x87 |
DB /7      | fstp =Mt           | x87 |
DB C0+i    | fcmovnb &ST0, T    | x87 |
DB C8+i    | fcmovne &ST0, T    | x87 |
DB D0+i    | fcmovnbe &ST0, T   | x87 |
DB D8+i    | fcmovnu &ST0, T    | x87 |
DB E0      | fneni              | x87 | deny=legacy
DB E1      | fndisi             | x87 | deny=legacy
DB E2      | fnclex             | x87 |
DB E3      | fninit             | x87 |
DB E4      | fnsetpm            | x87 | deny=legacy
DB E8+i    | fucomi ST0, T      | x87 |
DB F0+i    | fcomi ST0, T       | x87 |

# ---- DC: double-precision arithmetic, st(i) op st(0) --------------------------------
# Register forms DC E0..FF: Intel's fsubr/fsub and fdivr/fdiv (the AT&T/objdump
# names are swapped here; NaCl's .def uses the objdump ones).
DC /0      | fadd Mq            | x87 |
DC /1      | fmul Mq            | x87 |
DC /2      | fcom Mq            | x87 |
DC /3      | fcomp Mq           | x87 |
DC /4      | fsub Mq            | x87 |
DC /5      | fsubr Mq           | x87 |
DC /6      | fdiv Mq            | x87 |
DC /7      | fdivr Mq           | x87 |
DC C0+i    | fadd &T, ST0       | x87 |
DC C8+i    | fmul &T, ST0       | x87 |
DC D0+i    | fcom ST0, T        | x87 | deny=legacy
DC D8+i    | fcomp ST0, T       | x87 | deny=legacy
DC E0+i    | fsubr &T, ST0      | x87 |
DC E8+i    | fsub &T, ST0       | x87 |
DC F0+i    | fdivr &T, ST0      | x87 |
DC F8+i    | fdiv &T, ST0       | x87 |

# ---- DD: double load/store, fisttp m64, state save/restore, status word ----------
DD /0      | fld Mq             | x87 |
DD /1      | fisttp =Mq         | SSE3 |
DD /2      | fst =Mq            | x87 |
DD /3      | fstp =Mq           | x87 |
DD /4      | frstor M           | x87 | no66
DD /6      | fnsave =M          | x87 | no66
DD /7      | fnstsw =Mw         | x87 |
DD C0+i    | ffree T            | x87 |
DD C8+i    | fxch &ST0, &T      | x87 | deny=legacy
DD D0+i    | fst =T             | x87 |
DD D8+i    | fstp =T            | x87 |
DD E0+i    | fucom ST0, T       | x87 |
DD E8+i    | fucomp ST0, T      | x87 |

# ---- DE: 16-bit integer arithmetic, arithmetic and pop ----------------------------
DE /0      | fiadd Mw           | x87 |
DE /1      | fimul Mw           | x87 |
DE /2      | ficom Mw           | x87 |
DE /3      | ficomp Mw          | x87 |
DE /4      | fisub Mw           | x87 |
DE /5      | fisubr Mw          | x87 |
DE /6      | fidiv Mw           | x87 |
DE /7      | fidivr Mw          | x87 |
DE C0+i    | faddp &T, ST0      | x87 |
DE C8+i    | fmulp &T, ST0      | x87 |
DE D0+i    | fcomp ST0, T       | x87 | deny=legacy
DE D9      | fcompp             | x87 |
DE E0+i    | fsubrp &T, ST0     | x87 |
DE E8+i    | fsubp &T, ST0      | x87 |
DE F0+i    | fdivrp &T, ST0     | x87 |
DE F8+i    | fdivp &T, ST0      | x87 |

# ---- DF: 16/64-bit integer load/store, BCD, status word to AX, fcomip ------------
DF /0      | fild Mw            | x87 |
DF /1      | fisttp =Mw         | SSE3 |
DF /2      | fist =Mw           | x87 |
DF /3      | fistp =Mw          | x87 |
DF /4      | fbld Mt            | x87 |
DF /5      | fild Mq            | x87 |
DF /6      | fbstp =Mt          | x87 |
DF /7      | fistp =Mq          | x87 |
DF C0+i    | ffreep T           | x87 | deny=legacy
DF C8+i    | fxch &ST0, &T      | x87 | deny=legacy
DF D0+i    | fstp =T            | x87 | deny=legacy
DF D8+i    | fstp =T            | x87 | deny=legacy
DF E0      | fnstsw =AX         | x87 |
DF E8+i    | fucomip ST0, T     | x87 |
DF F0+i    | fcomip ST0, T      | x87 |
` };
