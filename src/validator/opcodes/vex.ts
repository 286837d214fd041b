/**
 * VEX-encoded instructions (C4/C5 prefix), 64-bit mode.
 *
 * Covers AVX, AVX2, FMA3, F16C, BMI1, BMI2, AES (VEX forms), PCLMULQDQ (VEX
 * form) and AMD FMA4. EVEX (AVX-512), XOP (8F prefix) and AMD's VEX-encoded
 * XOP instructions vpermil2ps/pd (VEX 0F3A 48/49) are not listed, so the
 * decoder reports them as undecodable; so are later VEX extensions (VAES and
 * VPCLMULQDQ on ymm, AVX-VNNI, GFNI, AMX, ...).
 *
 * Grammar: see `grammar.ts`. Conventions used here:
 * - Forms that exist at both vector lengths with the same operands are one
 *   line `VEX.128/256`, their vector operands sized `x` (xmm at 128, ymm at
 *   256); the feature column may name one feature per length (`AVX/AVX2`:
 *   the VEX.256 integer forms need AVX2). Forms whose operands differ
 *   between the lengths otherwise (conversions, broadcasts, shifts by a
 *   count in xmm) are two lines, `VEX.128` with xmm sizes (dq) and `VEX.256`
 *   with ymm sizes (qq). A W operand's size is also its memory size
 *   (`Wq` = xmm register or m64). Scalar forms are `VEX.LIG`. "VEX.LZ" of
 *   the manuals is written `VEX.128`.
 * - No H/B operand means VEX.vvvv is unused (must be 1111), except on the
 *   `anyvvvv` forms.
 *
 * Sandbox policy: what NaCl's validator accepts (spec/validator.md,
 * "Instruction set"; the differential tests compare every form with it):
 * - What NaCl does not know is `deny=unknown` (fatal): FMA4, all of BMI2,
 *   the gathers, the VEX.256 vpslldq/vpsrldq, vcmpsd, the register form of
 *   vextractps and the VEX.W1 forms NaCl does not list (vmovmskps/pd,
 *   vpmovmskb, vpextrb/w, vpinsrb/w, vextractps, vpcmpestri/m). What it
 *   decodes but refuses the CPU feature of is `deny=unsupported` (not
 *   fatal): the VEX AES forms, vpclmulqdq, F16C, BMI1.
 * - vmaskmovdqu writes through %rdi: `deny=special` (superinstruction only).
 * - This table follows the CPU: WIG/LIG where the CPU ignores W/L. NaCl
 *   accepts only W = 0 and L = 0 there (and R/X/B = 0 where they select
 *   nothing); the validator checks that as `noncanonical-encoding`
 *   (validate.ts, checkEncoding). Exceptions are attributes: `L1` (NaCl
 *   lists only L = 1) and `anyvvvv` (NaCl ignores vvvv).
 * - GPR destinations are marked written; only vmovd to a 32-bit register is
 *   `zx` (the one VEX form NaCl marks nacl-amd64-zero-extends).
 */
export const VEX_TABLE = { name: 'vex', file: 'vex.ts', line: 40, attributes: 'zerovm:deny=novex', text: String.raw`
# ============================================================================
# AVX / AVX2, map 0F
# ============================================================================
# ---- 10-17: moves, scalar moves, unpack ------------------------------------
# vmovss/vmovsd: the register form merges H (vvvv used), the memory form has
# no H (vvvv must be 1111); NaCl lists the register forms with VEX.L = 1 only.
# 12/13/16/17: U forms are vmovhlps/vmovlhps, M forms vmovlps/vmovhps/
# vmovlpd/vmovhpd (NaCl ignores vvvv on the 17 stores).
VEX.128/256.NP.0F.WIG 10 /r    | vmovups =Vx, Wx                   | AVX      |
VEX.128/256.66.0F.WIG 10 /r    | vmovupd =Vx, Wx                   | AVX      |
VEX.LIG.F3.0F.WIG 10 /r        | vmovss =Vdq, Hdq, Udq             | AVX      | L1
VEX.LIG.F3.0F.WIG 10 /r        | vmovss =Vdq, Md                   | AVX      |
VEX.LIG.F2.0F.WIG 10 /r        | vmovsd =Vdq, Hdq, Udq             | AVX      | L1
VEX.LIG.F2.0F.WIG 10 /r        | vmovsd =Vdq, Mq                   | AVX      |
VEX.128/256.NP.0F.WIG 11 /r    | vmovups =Wx, Vx                   | AVX      |
VEX.128/256.66.0F.WIG 11 /r    | vmovupd =Wx, Vx                   | AVX      |
VEX.LIG.F3.0F.WIG 11 /r        | vmovss =Udq, Hdq, Vdq             | AVX      | L1
VEX.LIG.F3.0F.WIG 11 /r        | vmovss =Md, Vdq                   | AVX      |
VEX.LIG.F2.0F.WIG 11 /r        | vmovsd =Udq, Hdq, Vdq             | AVX      | L1
VEX.LIG.F2.0F.WIG 11 /r        | vmovsd =Mq, Vdq                   | AVX      |
VEX.128.NP.0F.WIG 12 /r        | vmovhlps =Vdq, Hdq, Udq           | AVX      |
VEX.128.NP.0F.WIG 12 /r        | vmovlps =Vdq, Hdq, Mq             | AVX      |
VEX.128.66.0F.WIG 12 /r        | vmovlpd =Vdq, Hdq, Mq             | AVX      |
VEX.128/256.F3.0F.WIG 12 /r    | vmovsldup =Vx, Wx                 | AVX      |
VEX.128.F2.0F.WIG 12 /r        | vmovddup =Vdq, Wq                 | AVX      |
VEX.256.F2.0F.WIG 12 /r        | vmovddup =Vqq, Wqq                | AVX      |
VEX.128.NP.0F.WIG 13 /r        | vmovlps =Mq, Vdq                  | AVX      |
VEX.128.66.0F.WIG 13 /r        | vmovlpd =Mq, Vdq                  | AVX      |
VEX.128/256.NP.0F.WIG 14 /r    | vunpcklps =Vx, Hx, Wx             | AVX      |
VEX.128/256.66.0F.WIG 14 /r    | vunpcklpd =Vx, Hx, Wx             | AVX      |
VEX.128/256.NP.0F.WIG 15 /r    | vunpckhps =Vx, Hx, Wx             | AVX      |
VEX.128/256.66.0F.WIG 15 /r    | vunpckhpd =Vx, Hx, Wx             | AVX      |
VEX.128.NP.0F.WIG 16 /r        | vmovlhps =Vdq, Hdq, Udq           | AVX      |
VEX.128.NP.0F.WIG 16 /r        | vmovhps =Vdq, Hdq, Mq             | AVX      |
VEX.128.66.0F.WIG 16 /r        | vmovhpd =Vdq, Hdq, Mq             | AVX      |
VEX.128/256.F3.0F.WIG 16 /r    | vmovshdup =Vx, Wx                 | AVX      |
VEX.128.NP.0F.WIG 17 /r        | vmovhps =Mq, Vdq                  | AVX      | anyvvvv
VEX.128.66.0F.WIG 17 /r        | vmovhpd =Mq, Vdq                  | AVX      | anyvvvv

# ---- 28-2F: aligned and non-temporal moves, scalar conversions, compares ---
VEX.128/256.NP.0F.WIG 28 /r    | vmovaps =Vx, Wx                   | AVX      |
VEX.128/256.66.0F.WIG 28 /r    | vmovapd =Vx, Wx                   | AVX      |
VEX.128/256.NP.0F.WIG 29 /r    | vmovaps =Wx, Vx                   | AVX      |
VEX.128/256.66.0F.WIG 29 /r    | vmovapd =Wx, Vx                   | AVX      |
VEX.LIG.F3.0F.W0 2A /r         | vcvtsi2ss =Vdq, Hdq, Ed           | AVX      |
VEX.LIG.F3.0F.W1 2A /r         | vcvtsi2ss =Vdq, Hdq, Eq           | AVX      |
VEX.LIG.F2.0F.W0 2A /r         | vcvtsi2sd =Vdq, Hdq, Ed           | AVX      |
VEX.LIG.F2.0F.W1 2A /r         | vcvtsi2sd =Vdq, Hdq, Eq           | AVX      |
VEX.128/256.NP.0F.WIG 2B /r    | vmovntps =Mx, Vx                  | AVX      |
VEX.128/256.66.0F.WIG 2B /r    | vmovntpd =Mx, Vx                  | AVX      |
VEX.LIG.F3.0F.W0 2C /r         | vcvttss2si =Gd, Wd                | AVX      |
VEX.LIG.F3.0F.W1 2C /r         | vcvttss2si =Gq, Wd                | AVX      |
VEX.LIG.F2.0F.W0 2C /r         | vcvttsd2si =Gd, Wq                | AVX      |
VEX.LIG.F2.0F.W1 2C /r         | vcvttsd2si =Gq, Wq                | AVX      |
VEX.LIG.F3.0F.W0 2D /r         | vcvtss2si =Gd, Wd                 | AVX      |
VEX.LIG.F3.0F.W1 2D /r         | vcvtss2si =Gq, Wd                 | AVX      |
VEX.LIG.F2.0F.W0 2D /r         | vcvtsd2si =Gd, Wq                 | AVX      |
VEX.LIG.F2.0F.W1 2D /r         | vcvtsd2si =Gq, Wq                 | AVX      |
VEX.LIG.NP.0F.WIG 2E /r        | vucomiss Vdq, Wd                  | AVX      | anyvvvv
VEX.LIG.66.0F.WIG 2E /r        | vucomisd Vdq, Wq                  | AVX      | anyvvvv
VEX.LIG.NP.0F.WIG 2F /r        | vcomiss Vdq, Wd                   | AVX      | anyvvvv
VEX.LIG.66.0F.WIG 2F /r        | vcomisd Vdq, Wq                   | AVX      | anyvvvv

# ---- 50-5F: sign masks, arithmetic, logic, conversions ---------------------
# vmovmskps/pd: NaCl lists only the W0 (32-bit destination) form.
VEX.128.NP.0F.W0 50 /r         | vmovmskps =Gd, Udq                | AVX      |
VEX.128.NP.0F.W1 50 /r         | vmovmskps =Gq, Udq                | AVX      | deny=unknown
VEX.256.NP.0F.W0 50 /r         | vmovmskps =Gd, Uqq                | AVX      |
VEX.256.NP.0F.W1 50 /r         | vmovmskps =Gq, Uqq                | AVX      | deny=unknown
VEX.128.66.0F.W0 50 /r         | vmovmskpd =Gd, Udq                | AVX      |
VEX.128.66.0F.W1 50 /r         | vmovmskpd =Gq, Udq                | AVX      | deny=unknown
VEX.256.66.0F.W0 50 /r         | vmovmskpd =Gd, Uqq                | AVX      |
VEX.256.66.0F.W1 50 /r         | vmovmskpd =Gq, Uqq                | AVX      | deny=unknown
VEX.128/256.NP.0F.WIG 51 /r    | vsqrtps =Vx, Wx                   | AVX      | anyvvvv
VEX.128/256.66.0F.WIG 51 /r    | vsqrtpd =Vx, Wx                   | AVX      | anyvvvv
VEX.LIG.F3.0F.WIG 51 /r        | vsqrtss =Vdq, Hdq, Wd             | AVX      |
VEX.LIG.F2.0F.WIG 51 /r        | vsqrtsd =Vdq, Hdq, Wq             | AVX      |
VEX.128/256.NP.0F.WIG 52 /r    | vrsqrtps =Vx, Wx                  | AVX      |
VEX.LIG.F3.0F.WIG 52 /r        | vrsqrtss =Vdq, Hdq, Wd            | AVX      |
VEX.128/256.NP.0F.WIG 53 /r    | vrcpps =Vx, Wx                    | AVX      |
VEX.LIG.F3.0F.WIG 53 /r        | vrcpss =Vdq, Hdq, Wd              | AVX      |
VEX.128/256.NP.0F.WIG 54 /r    | vandps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 54 /r    | vandpd =Vx, Hx, Wx                | AVX      |
VEX.128/256.NP.0F.WIG 55 /r    | vandnps =Vx, Hx, Wx               | AVX      |
VEX.128/256.66.0F.WIG 55 /r    | vandnpd =Vx, Hx, Wx               | AVX      |
VEX.128/256.NP.0F.WIG 56 /r    | vorps =Vx, Hx, Wx                 | AVX      |
VEX.128/256.66.0F.WIG 56 /r    | vorpd =Vx, Hx, Wx                 | AVX      |
VEX.128/256.NP.0F.WIG 57 /r    | vxorps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 57 /r    | vxorpd =Vx, Hx, Wx                | AVX      |
VEX.128/256.NP.0F.WIG 58 /r    | vaddps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 58 /r    | vaddpd =Vx, Hx, Wx                | AVX      |
VEX.LIG.F3.0F.WIG 58 /r        | vaddss =Vdq, Hdq, Wd              | AVX      |
VEX.LIG.F2.0F.WIG 58 /r        | vaddsd =Vdq, Hdq, Wq              | AVX      |
VEX.128/256.NP.0F.WIG 59 /r    | vmulps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 59 /r    | vmulpd =Vx, Hx, Wx                | AVX      |
VEX.LIG.F3.0F.WIG 59 /r        | vmulss =Vdq, Hdq, Wd              | AVX      |
VEX.LIG.F2.0F.WIG 59 /r        | vmulsd =Vdq, Hdq, Wq              | AVX      |
VEX.128.NP.0F.WIG 5A /r        | vcvtps2pd =Vdq, Wq                | AVX      |
VEX.256.NP.0F.WIG 5A /r        | vcvtps2pd =Vqq, Wdq               | AVX      |
VEX.128.66.0F.WIG 5A /r        | vcvtpd2ps =Vdq, Wdq               | AVX      |
VEX.256.66.0F.WIG 5A /r        | vcvtpd2ps =Vdq, Wqq               | AVX      |
VEX.LIG.F3.0F.WIG 5A /r        | vcvtss2sd =Vdq, Hdq, Wd           | AVX      |
VEX.LIG.F2.0F.WIG 5A /r        | vcvtsd2ss =Vdq, Hdq, Wq           | AVX      |
VEX.128/256.NP.0F.WIG 5B /r    | vcvtdq2ps =Vx, Wx                 | AVX      |
VEX.128/256.66.0F.WIG 5B /r    | vcvtps2dq =Vx, Wx                 | AVX      |
VEX.128/256.F3.0F.WIG 5B /r    | vcvttps2dq =Vx, Wx                | AVX      |
VEX.128/256.NP.0F.WIG 5C /r    | vsubps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 5C /r    | vsubpd =Vx, Hx, Wx                | AVX      |
VEX.LIG.F3.0F.WIG 5C /r        | vsubss =Vdq, Hdq, Wd              | AVX      |
VEX.LIG.F2.0F.WIG 5C /r        | vsubsd =Vdq, Hdq, Wq              | AVX      |
VEX.128/256.NP.0F.WIG 5D /r    | vminps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 5D /r    | vminpd =Vx, Hx, Wx                | AVX      |
VEX.LIG.F3.0F.WIG 5D /r        | vminss =Vdq, Hdq, Wd              | AVX      |
VEX.LIG.F2.0F.WIG 5D /r        | vminsd =Vdq, Hdq, Wq              | AVX      |
VEX.128/256.NP.0F.WIG 5E /r    | vdivps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 5E /r    | vdivpd =Vx, Hx, Wx                | AVX      |
VEX.LIG.F3.0F.WIG 5E /r        | vdivss =Vdq, Hdq, Wd              | AVX      |
VEX.LIG.F2.0F.WIG 5E /r        | vdivsd =Vdq, Hdq, Wq              | AVX      |
VEX.128/256.NP.0F.WIG 5F /r    | vmaxps =Vx, Hx, Wx                | AVX      |
VEX.128/256.66.0F.WIG 5F /r    | vmaxpd =Vx, Hx, Wx                | AVX      |
VEX.LIG.F3.0F.WIG 5F /r        | vmaxss =Vdq, Hdq, Wd              | AVX      |
VEX.LIG.F2.0F.WIG 5F /r        | vmaxsd =Vdq, Hdq, Wq              | AVX      |

# ---- 60-6F: integer unpack/pack/compare; vmovd/vmovq; vmovdqa/vmovdqu ------
# The VEX.256 integer forms are AVX2.
VEX.128/256.66.0F.WIG 60 /r    | vpunpcklbw =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F.WIG 61 /r    | vpunpcklwd =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F.WIG 62 /r    | vpunpckldq =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F.WIG 63 /r    | vpacksswb =Vx, Hx, Wx             | AVX/AVX2 |
VEX.128/256.66.0F.WIG 64 /r    | vpcmpgtb =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG 65 /r    | vpcmpgtw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG 66 /r    | vpcmpgtd =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG 67 /r    | vpackuswb =Vx, Hx, Wx             | AVX/AVX2 |
VEX.128/256.66.0F.WIG 68 /r    | vpunpckhbw =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F.WIG 69 /r    | vpunpckhwd =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F.WIG 6A /r    | vpunpckhdq =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F.WIG 6B /r    | vpackssdw =Vx, Hx, Wx             | AVX/AVX2 |
VEX.128/256.66.0F.WIG 6C /r    | vpunpcklqdq =Vx, Hx, Wx           | AVX/AVX2 |
VEX.128/256.66.0F.WIG 6D /r    | vpunpckhqdq =Vx, Hx, Wx           | AVX/AVX2 |
VEX.128.66.0F.W0 6E /r         | vmovd =Vdq, Ed                    | AVX      |
VEX.128.66.0F.W1 6E /r         | vmovq =Vdq, Eq                    | AVX      |
VEX.128/256.66.0F.WIG 6F /r    | vmovdqa =Vx, Wx                   | AVX      |
VEX.128/256.F3.0F.WIG 6F /r    | vmovdqu =Vx, Wx                   | AVX      |

# ---- 70-7F: shuffles, shifts by immediate, vzero*, horizontal ops, moves ---
# Shift-by-immediate groups 71-73 write the vvvv register (H) from U.
# vpsrldq/vpslldq: NaCl lists only the VEX.128 form.
VEX.128/256.66.0F.WIG 70 /r    | vpshufd =Vx, Wx, Ib               | AVX/AVX2 |
VEX.128/256.F3.0F.WIG 70 /r    | vpshufhw =Vx, Wx, Ib              | AVX/AVX2 |
VEX.128/256.F2.0F.WIG 70 /r    | vpshuflw =Vx, Wx, Ib              | AVX/AVX2 |
VEX.128/256.66.0F.WIG 71 /2    | vpsrlw =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128/256.66.0F.WIG 71 /4    | vpsraw =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128/256.66.0F.WIG 71 /6    | vpsllw =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128/256.66.0F.WIG 72 /2    | vpsrld =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128/256.66.0F.WIG 72 /4    | vpsrad =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128/256.66.0F.WIG 72 /6    | vpslld =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128/256.66.0F.WIG 73 /2    | vpsrlq =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128.66.0F.WIG 73 /3        | vpsrldq =Hdq, Udq, Ib             | AVX      |
VEX.256.66.0F.WIG 73 /3        | vpsrldq =Hqq, Uqq, Ib             | AVX2     | deny=unknown
VEX.128/256.66.0F.WIG 73 /6    | vpsllq =Hx, Ux, Ib                | AVX/AVX2 |
VEX.128.66.0F.WIG 73 /7        | vpslldq =Hdq, Udq, Ib             | AVX      |
VEX.256.66.0F.WIG 73 /7        | vpslldq =Hqq, Uqq, Ib             | AVX2     | deny=unknown
VEX.128/256.66.0F.WIG 74 /r    | vpcmpeqb =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG 75 /r    | vpcmpeqw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG 76 /r    | vpcmpeqd =Vx, Hx, Wx              | AVX/AVX2 |

# vzeroupper / vzeroall: no ModRM byte.
VEX.128.NP.0F.WIG 77           | vzeroupper                        | AVX      |
VEX.256.NP.0F.WIG 77           | vzeroall                          | AVX      |
VEX.128/256.66.0F.WIG 7C /r    | vhaddpd =Vx, Hx, Wx               | AVX      |
VEX.128/256.F2.0F.WIG 7C /r    | vhaddps =Vx, Hx, Wx               | AVX      |
VEX.128/256.66.0F.WIG 7D /r    | vhsubpd =Vx, Hx, Wx               | AVX      |
VEX.128/256.F2.0F.WIG 7D /r    | vhsubps =Vx, Hx, Wx               | AVX      |

# vmovd to a 32-bit register zero-extends it (NaCl: nacl-amd64-zero-extends).
# 66 D6 (vmovq store) exists only as VEX.128 (vmovq.test: c5 fd d6 c1 is
# rejected).
VEX.128.66.0F.W0 7E /r         | vmovd =Ed, Vdq                    | AVX      | zx
VEX.128.66.0F.W1 7E /r         | vmovq =Eq, Vdq                    | AVX      |
VEX.128.F3.0F.WIG 7E /r        | vmovq =Vdq, Wq                    | AVX      |
VEX.128/256.66.0F.WIG 7F /r    | vmovdqa =Wx, Vx                   | AVX      |
VEX.128/256.F3.0F.WIG 7F /r    | vmovdqu =Wx, Vx                   | AVX      |

# ---- AE, C2-C6: MXCSR, compares with predicate, pinsrw/pextrw, shuffles ----
# vcmpsd is nacl-forbidden in NaCl's definitions (vcmpss/ps/pd are not); kept
# as NaCl has it. vpinsrw/vpextrw: NaCl lists only the W0 forms.
VEX.128.NP.0F.WIG AE /2        | vldmxcsr Md                       | AVX      |
VEX.128.NP.0F.WIG AE /3        | vstmxcsr =Md                      | AVX      |
VEX.128/256.NP.0F.WIG C2 /r    | vcmpps =Vx, Hx, Wx, Ib            | AVX      |
VEX.128/256.66.0F.WIG C2 /r    | vcmppd =Vx, Hx, Wx, Ib            | AVX      |
VEX.LIG.F3.0F.WIG C2 /r        | vcmpss =Vdq, Hdq, Wd, Ib          | AVX      |
VEX.LIG.F2.0F.WIG C2 /r        | vcmpsd =Vdq, Hdq, Wq, Ib          | AVX      | deny=unknown
VEX.128.66.0F.W0 C4 /r         | vpinsrw =Vdq, Hdq, Mw, Ib         | AVX      |
VEX.128.66.0F.W0 C4 /r         | vpinsrw =Vdq, Hdq, Rd, Ib         | AVX      |
VEX.128.66.0F.W1 C4 /r         | vpinsrw =Vdq, Hdq, Mw, Ib         | AVX      | deny=unknown
VEX.128.66.0F.W1 C4 /r         | vpinsrw =Vdq, Hdq, Rq, Ib         | AVX      | deny=unknown
VEX.128.66.0F.W0 C5 /r         | vpextrw =Gd, Udq, Ib              | AVX      |
VEX.128.66.0F.W1 C5 /r         | vpextrw =Gq, Udq, Ib              | AVX      | deny=unknown
VEX.128/256.NP.0F.WIG C6 /r    | vshufps =Vx, Hx, Wx, Ib           | AVX      |
VEX.128/256.66.0F.WIG C6 /r    | vshufpd =Vx, Hx, Wx, Ib           | AVX      |

# ---- D0-FE: integer arithmetic, shifts by xmm count, conversions -----------
# Shifts by count (D1-D3, E1-E2, F1-F3) take the count from xmm/m128 at
# both lengths.
VEX.128/256.66.0F.WIG D0 /r    | vaddsubpd =Vx, Hx, Wx             | AVX      |
VEX.128/256.F2.0F.WIG D0 /r    | vaddsubps =Vx, Hx, Wx             | AVX      |
VEX.128.66.0F.WIG D1 /r        | vpsrlw =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG D1 /r        | vpsrlw =Vqq, Hqq, Wdq             | AVX2     |
VEX.128.66.0F.WIG D2 /r        | vpsrld =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG D2 /r        | vpsrld =Vqq, Hqq, Wdq             | AVX2     |
VEX.128.66.0F.WIG D3 /r        | vpsrlq =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG D3 /r        | vpsrlq =Vqq, Hqq, Wdq             | AVX2     |
VEX.128/256.66.0F.WIG D4 /r    | vpaddq =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG D5 /r    | vpmullw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128.66.0F.WIG D6 /r        | vmovq =Wq, Vdq                    | AVX      |
VEX.128.66.0F.W0 D7 /r         | vpmovmskb =Gd, Udq                | AVX      |
VEX.128.66.0F.W1 D7 /r         | vpmovmskb =Gq, Udq                | AVX      | deny=unknown
VEX.256.66.0F.W0 D7 /r         | vpmovmskb =Gd, Uqq                | AVX2     |
VEX.256.66.0F.W1 D7 /r         | vpmovmskb =Gq, Uqq                | AVX2     | deny=unknown
VEX.128/256.66.0F.WIG D8 /r    | vpsubusb =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG D9 /r    | vpsubusw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG DA /r    | vpminub =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG DB /r    | vpand =Vx, Hx, Wx                 | AVX/AVX2 |
VEX.128/256.66.0F.WIG DC /r    | vpaddusb =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG DD /r    | vpaddusw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG DE /r    | vpmaxub =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG DF /r    | vpandn =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG E0 /r    | vpavgb =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128.66.0F.WIG E1 /r        | vpsraw =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG E1 /r        | vpsraw =Vqq, Hqq, Wdq             | AVX2     |
VEX.128.66.0F.WIG E2 /r        | vpsrad =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG E2 /r        | vpsrad =Vqq, Hqq, Wdq             | AVX2     |
VEX.128/256.66.0F.WIG E3 /r    | vpavgw =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG E4 /r    | vpmulhuw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG E5 /r    | vpmulhw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128.66.0F.WIG E6 /r        | vcvttpd2dq =Vdq, Wdq              | AVX      |
VEX.256.66.0F.WIG E6 /r        | vcvttpd2dq =Vdq, Wqq              | AVX      |
VEX.128.F3.0F.WIG E6 /r        | vcvtdq2pd =Vdq, Wq                | AVX      |
VEX.256.F3.0F.WIG E6 /r        | vcvtdq2pd =Vqq, Wdq               | AVX      |
VEX.128.F2.0F.WIG E6 /r        | vcvtpd2dq =Vdq, Wdq               | AVX      |
VEX.256.F2.0F.WIG E6 /r        | vcvtpd2dq =Vdq, Wqq               | AVX      |
VEX.128/256.66.0F.WIG E7 /r    | vmovntdq =Mx, Vx                  | AVX      |
VEX.128/256.66.0F.WIG E8 /r    | vpsubsb =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG E9 /r    | vpsubsw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG EA /r    | vpminsw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG EB /r    | vpor =Vx, Hx, Wx                  | AVX/AVX2 |
VEX.128/256.66.0F.WIG EC /r    | vpaddsb =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG ED /r    | vpaddsw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG EE /r    | vpmaxsw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F.WIG EF /r    | vpxor =Vx, Hx, Wx                 | AVX/AVX2 |
VEX.128/256.F2.0F.WIG F0 /r    | vlddqu =Vx, Mx                    | AVX      |
VEX.128.66.0F.WIG F1 /r        | vpsllw =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG F1 /r        | vpsllw =Vqq, Hqq, Wdq             | AVX2     |
VEX.128.66.0F.WIG F2 /r        | vpslld =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG F2 /r        | vpslld =Vqq, Hqq, Wdq             | AVX2     |
VEX.128.66.0F.WIG F3 /r        | vpsllq =Vdq, Hdq, Wdq             | AVX      |
VEX.256.66.0F.WIG F3 /r        | vpsllq =Vqq, Hqq, Wdq             | AVX2     |
VEX.128/256.66.0F.WIG F4 /r    | vpmuludq =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG F5 /r    | vpmaddwd =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F.WIG F6 /r    | vpsadbw =Vx, Hx, Wx               | AVX/AVX2 |

# vmaskmovdqu stores through %rdi: only inside the rdi-sandboxing
# superinstruction (mov %edi,%edi; lea (%r15,%rdi),%rdi; vmaskmovdqu),
# maskmov_test.test.
VEX.128.66.0F.WIG F7 /r        | vmaskmovdqu Vdq, Udq              | AVX      | deny=special
VEX.128/256.66.0F.WIG F8 /r    | vpsubb =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG F9 /r    | vpsubw =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG FA /r    | vpsubd =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG FB /r    | vpsubq =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG FC /r    | vpaddb =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG FD /r    | vpaddw =Vx, Hx, Wx                | AVX/AVX2 |
VEX.128/256.66.0F.WIG FE /r    | vpaddd =Vx, Hx, Wx                | AVX/AVX2 |

# ============================================================================
# AVX / AVX2, map 0F38 (FMA, F16C, AES, gathers and BMI further down)
# ============================================================================
# ---- 00-0F: SSSE3-style integer ops, vpermilps/pd, vtestps/pd --------------
VEX.128/256.66.0F38.WIG 00 /r  | vpshufb =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 01 /r  | vphaddw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 02 /r  | vphaddd =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 03 /r  | vphaddsw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 04 /r  | vpmaddubsw =Vx, Hx, Wx            | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 05 /r  | vphsubw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 06 /r  | vphsubd =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 07 /r  | vphsubsw =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 08 /r  | vpsignb =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 09 /r  | vpsignw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 0A /r  | vpsignd =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 0B /r  | vpmulhrsw =Vx, Hx, Wx             | AVX/AVX2 |
VEX.128/256.66.0F38.W0 0C /r   | vpermilps =Vx, Hx, Wx             | AVX      |
VEX.128/256.66.0F38.W0 0D /r   | vpermilpd =Vx, Hx, Wx             | AVX      |
VEX.128/256.66.0F38.W0 0E /r   | vtestps Vx, Wx                    | AVX      |
VEX.128/256.66.0F38.W0 0F /r   | vtestpd Vx, Wx                    | AVX      |

# ---- 16-1E: permutes, vptest, broadcasts, absolute value -------------------
# Broadcasts from a register (U) are AVX2; from memory (M) AVX.
VEX.256.66.0F38.W0 16 /r       | vpermps =Vqq, Hqq, Wqq            | AVX2     |
VEX.128/256.66.0F38.WIG 17 /r  | vptest Vx, Wx                     | AVX      |
VEX.128/256.66.0F38.W0 18 /r   | vbroadcastss =Vx, Md              | AVX      |
VEX.128.66.0F38.W0 18 /r       | vbroadcastss =Vdq, Udq            | AVX2     |
VEX.256.66.0F38.W0 18 /r       | vbroadcastss =Vqq, Udq            | AVX2     |
VEX.256.66.0F38.W0 19 /r       | vbroadcastsd =Vqq, Mq             | AVX      |
VEX.256.66.0F38.W0 19 /r       | vbroadcastsd =Vqq, Udq            | AVX2     |
VEX.256.66.0F38.W0 1A /r       | vbroadcastf128 =Vqq, Mdq          | AVX      |
VEX.128/256.66.0F38.WIG 1C /r  | vpabsb =Vx, Wx                    | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 1D /r  | vpabsw =Vx, Wx                    | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 1E /r  | vpabsd =Vx, Wx                    | AVX/AVX2 |

# ---- 20-35: sign/zero extension, vmovntdqa, masked moves -------------------
# vmaskmovps/pd (2C-2F) and vpmaskmovd/q (8C/8E) access memory only at the
# mask-selected elements, but the address is an ordinary ModRM address.
VEX.128.66.0F38.WIG 20 /r      | vpmovsxbw =Vdq, Wq                | AVX      |
VEX.256.66.0F38.WIG 20 /r      | vpmovsxbw =Vqq, Wdq               | AVX2     |
VEX.128.66.0F38.WIG 21 /r      | vpmovsxbd =Vdq, Wd                | AVX      |
VEX.256.66.0F38.WIG 21 /r      | vpmovsxbd =Vqq, Wq                | AVX2     |
VEX.128.66.0F38.WIG 22 /r      | vpmovsxbq =Vdq, Ww                | AVX      |
VEX.256.66.0F38.WIG 22 /r      | vpmovsxbq =Vqq, Wd                | AVX2     |
VEX.128.66.0F38.WIG 23 /r      | vpmovsxwd =Vdq, Wq                | AVX      |
VEX.256.66.0F38.WIG 23 /r      | vpmovsxwd =Vqq, Wdq               | AVX2     |
VEX.128.66.0F38.WIG 24 /r      | vpmovsxwq =Vdq, Wd                | AVX      |
VEX.256.66.0F38.WIG 24 /r      | vpmovsxwq =Vqq, Wq                | AVX2     |
VEX.128.66.0F38.WIG 25 /r      | vpmovsxdq =Vdq, Wq                | AVX      |
VEX.256.66.0F38.WIG 25 /r      | vpmovsxdq =Vqq, Wdq               | AVX2     |
VEX.128/256.66.0F38.WIG 28 /r  | vpmuldq =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 29 /r  | vpcmpeqq =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 2A /r  | vmovntdqa =Vx, Mx                 | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 2B /r  | vpackusdw =Vx, Hx, Wx             | AVX/AVX2 |
VEX.128/256.66.0F38.W0 2C /r   | vmaskmovps =Vx, Hx, Mx            | AVX      |
VEX.128/256.66.0F38.W0 2D /r   | vmaskmovpd =Vx, Hx, Mx            | AVX      |
VEX.128/256.66.0F38.W0 2E /r   | vmaskmovps =Mx, Hx, Vx            | AVX      |
VEX.128/256.66.0F38.W0 2F /r   | vmaskmovpd =Mx, Hx, Vx            | AVX      |
VEX.128.66.0F38.WIG 30 /r      | vpmovzxbw =Vdq, Wq                | AVX      |
VEX.256.66.0F38.WIG 30 /r      | vpmovzxbw =Vqq, Wdq               | AVX2     |
VEX.128.66.0F38.WIG 31 /r      | vpmovzxbd =Vdq, Wd                | AVX      |
VEX.256.66.0F38.WIG 31 /r      | vpmovzxbd =Vqq, Wq                | AVX2     |
VEX.128.66.0F38.WIG 32 /r      | vpmovzxbq =Vdq, Ww                | AVX      |
VEX.256.66.0F38.WIG 32 /r      | vpmovzxbq =Vqq, Wd                | AVX2     |
VEX.128.66.0F38.WIG 33 /r      | vpmovzxwd =Vdq, Wq                | AVX      |
VEX.256.66.0F38.WIG 33 /r      | vpmovzxwd =Vqq, Wdq               | AVX2     |
VEX.128.66.0F38.WIG 34 /r      | vpmovzxwq =Vdq, Wd                | AVX      |
VEX.256.66.0F38.WIG 34 /r      | vpmovzxwq =Vqq, Wq                | AVX2     |
VEX.128.66.0F38.WIG 35 /r      | vpmovzxdq =Vdq, Wq                | AVX      |
VEX.256.66.0F38.WIG 35 /r      | vpmovzxdq =Vqq, Wdq               | AVX2     |

# ---- 36-47: integer min/max/multiply, AVX2 permutes and variable shifts ----
VEX.256.66.0F38.W0 36 /r       | vpermd =Vqq, Hqq, Wqq             | AVX2     |
VEX.128/256.66.0F38.WIG 37 /r  | vpcmpgtq =Vx, Hx, Wx              | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 38 /r  | vpminsb =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 39 /r  | vpminsd =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 3A /r  | vpminuw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 3B /r  | vpminud =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 3C /r  | vpmaxsb =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 3D /r  | vpmaxsd =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 3E /r  | vpmaxuw =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 3F /r  | vpmaxud =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128/256.66.0F38.WIG 40 /r  | vpmulld =Vx, Hx, Wx               | AVX/AVX2 |
VEX.128.66.0F38.WIG 41 /r      | vphminposuw =Vdq, Wdq             | AVX      |
VEX.128/256.66.0F38.W0 45 /r   | vpsrlvd =Vx, Hx, Wx               | AVX2     |
VEX.128/256.66.0F38.W1 45 /r   | vpsrlvq =Vx, Hx, Wx               | AVX2     |
VEX.128/256.66.0F38.W0 46 /r   | vpsravd =Vx, Hx, Wx               | AVX2     |
VEX.128/256.66.0F38.W0 47 /r   | vpsllvd =Vx, Hx, Wx               | AVX2     |
VEX.128/256.66.0F38.W1 47 /r   | vpsllvq =Vx, Hx, Wx               | AVX2     |

# ---- 58-8E: AVX2 broadcasts and masked moves -------------------------------
VEX.128/256.66.0F38.W0 58 /r   | vpbroadcastd =Vx, Wd              | AVX2     |
VEX.128/256.66.0F38.W0 59 /r   | vpbroadcastq =Vx, Wq              | AVX2     |
VEX.256.66.0F38.W0 5A /r       | vbroadcasti128 =Vqq, Mdq          | AVX2     |
VEX.128/256.66.0F38.W0 78 /r   | vpbroadcastb =Vx, Wb              | AVX2     |
VEX.128/256.66.0F38.W0 79 /r   | vpbroadcastw =Vx, Ww              | AVX2     |
VEX.128/256.66.0F38.W0 8C /r   | vpmaskmovd =Vx, Hx, Mx            | AVX2     |
VEX.128/256.66.0F38.W1 8C /r   | vpmaskmovq =Vx, Hx, Mx            | AVX2     |
VEX.128/256.66.0F38.W0 8E /r   | vpmaskmovd =Mx, Hx, Vx            | AVX2     |
VEX.128/256.66.0F38.W1 8E /r   | vpmaskmovq =Mx, Hx, Vx            | AVX2     |

# ============================================================================
# AVX / AVX2, map 0F3A (F16C, AES, PCLMUL and FMA4 further down)
# ============================================================================
# ---- 00-0F: permutes, blends, rounding, palignr ----------------------------
VEX.256.66.0F3A.W1 00 /r       | vpermq =Vqq, Wqq, Ib              | AVX2     |
VEX.256.66.0F3A.W1 01 /r       | vpermpd =Vqq, Wqq, Ib             | AVX2     |
VEX.128/256.66.0F3A.W0 02 /r   | vpblendd =Vx, Hx, Wx, Ib          | AVX2     |
VEX.128/256.66.0F3A.W0 04 /r   | vpermilps =Vx, Wx, Ib             | AVX      |
VEX.128/256.66.0F3A.W0 05 /r   | vpermilpd =Vx, Wx, Ib             | AVX      |
VEX.256.66.0F3A.W0 06 /r       | vperm2f128 =Vqq, Hqq, Wqq, Ib     | AVX      |
VEX.128/256.66.0F3A.WIG 08 /r  | vroundps =Vx, Wx, Ib              | AVX      | anyvvvv
VEX.128/256.66.0F3A.WIG 09 /r  | vroundpd =Vx, Wx, Ib              | AVX      | anyvvvv
VEX.LIG.66.0F3A.WIG 0A /r      | vroundss =Vdq, Hdq, Wd, Ib        | AVX      |
VEX.LIG.66.0F3A.WIG 0B /r      | vroundsd =Vdq, Hdq, Wq, Ib        | AVX      |
VEX.128/256.66.0F3A.WIG 0C /r  | vblendps =Vx, Hx, Wx, Ib          | AVX      |
VEX.128/256.66.0F3A.WIG 0D /r  | vblendpd =Vx, Hx, Wx, Ib          | AVX      |
VEX.128/256.66.0F3A.WIG 0E /r  | vpblendw =Vx, Hx, Wx, Ib          | AVX/AVX2 |
VEX.128/256.66.0F3A.WIG 0F /r  | vpalignr =Vx, Hx, Wx, Ib          | AVX/AVX2 |

# ---- 14-22: element insert/extract -----------------------------------------
# Register forms write a 32-bit GPR (zero-extended by the CPU, but NaCl does
# not count them as zero-extending). NaCl lists only the W0 forms of
# vpextrb/vpextrw/vpinsrb and only the memory form of vextractps.
VEX.128.66.0F3A.W0 14 /r       | vpextrb =Mb, Vdq, Ib              | AVX      |
VEX.128.66.0F3A.W0 14 /r       | vpextrb =Rd, Vdq, Ib              | AVX      |
VEX.128.66.0F3A.W1 14 /r       | vpextrb =Mb, Vdq, Ib              | AVX      | deny=unknown
VEX.128.66.0F3A.W1 14 /r       | vpextrb =Rq, Vdq, Ib              | AVX      | deny=unknown
VEX.128.66.0F3A.W0 15 /r       | vpextrw =Mw, Vdq, Ib              | AVX      |
VEX.128.66.0F3A.W0 15 /r       | vpextrw =Rd, Vdq, Ib              | AVX      |
VEX.128.66.0F3A.W1 15 /r       | vpextrw =Mw, Vdq, Ib              | AVX      | deny=unknown
VEX.128.66.0F3A.W1 15 /r       | vpextrw =Rq, Vdq, Ib              | AVX      | deny=unknown
VEX.128.66.0F3A.W0 16 /r       | vpextrd =Ed, Vdq, Ib              | AVX      |
VEX.128.66.0F3A.W1 16 /r       | vpextrq =Eq, Vdq, Ib              | AVX      |
VEX.128.66.0F3A.W0 17 /r       | vextractps =Md, Vdq, Ib           | AVX      |
VEX.128.66.0F3A.W0 17 /r       | vextractps =Rd, Vdq, Ib           | AVX      | deny=unknown
VEX.128.66.0F3A.W1 17 /r       | vextractps =Md, Vdq, Ib           | AVX      | deny=unknown
VEX.128.66.0F3A.W1 17 /r       | vextractps =Rq, Vdq, Ib           | AVX      | deny=unknown
VEX.256.66.0F3A.W0 18 /r       | vinsertf128 =Vqq, Hqq, Wdq, Ib    | AVX      |
VEX.256.66.0F3A.W0 19 /r       | vextractf128 =Wdq, Vqq, Ib        | AVX      |
VEX.128.66.0F3A.W0 20 /r       | vpinsrb =Vdq, Hdq, Mb, Ib         | AVX      |
VEX.128.66.0F3A.W0 20 /r       | vpinsrb =Vdq, Hdq, Rd, Ib         | AVX      |
VEX.128.66.0F3A.W1 20 /r       | vpinsrb =Vdq, Hdq, Mb, Ib         | AVX      | deny=unknown
VEX.128.66.0F3A.W1 20 /r       | vpinsrb =Vdq, Hdq, Rq, Ib         | AVX      | deny=unknown
VEX.128.66.0F3A.WIG 21 /r      | vinsertps =Vdq, Hdq, Wd, Ib       | AVX      |
VEX.128.66.0F3A.W0 22 /r       | vpinsrd =Vdq, Hdq, Ed, Ib         | AVX      |
VEX.128.66.0F3A.W1 22 /r       | vpinsrq =Vdq, Hdq, Eq, Ib         | AVX      |

# ---- 38-63: 128-bit lane insert/extract, dot products, blends, strings -----
# vblendv*: the fourth register is in imm8[7:4] (L). vpcmpestri/m: the W1
# forms (64-bit lengths in rax/rdx) are not in NaCl's list.
VEX.256.66.0F3A.W0 38 /r       | vinserti128 =Vqq, Hqq, Wdq, Ib    | AVX2     |
VEX.256.66.0F3A.W0 39 /r       | vextracti128 =Wdq, Vqq, Ib        | AVX2     |
VEX.128/256.66.0F3A.WIG 40 /r  | vdpps =Vx, Hx, Wx, Ib             | AVX      |
VEX.128.66.0F3A.WIG 41 /r      | vdppd =Vdq, Hdq, Wdq, Ib          | AVX      |
VEX.128/256.66.0F3A.WIG 42 /r  | vmpsadbw =Vx, Hx, Wx, Ib          | AVX/AVX2 |
VEX.256.66.0F3A.W0 46 /r       | vperm2i128 =Vqq, Hqq, Wqq, Ib     | AVX2     |
VEX.128/256.66.0F3A.W0 4A /r   | vblendvps =Vx, Hx, Wx, Lx         | AVX      |
VEX.128/256.66.0F3A.W0 4B /r   | vblendvpd =Vx, Hx, Wx, Lx         | AVX      |
VEX.128/256.66.0F3A.W0 4C /r   | vpblendvb =Vx, Hx, Wx, Lx         | AVX/AVX2 |
VEX.128.66.0F3A.W0 60 /r       | vpcmpestrm Vdq, Wdq, Ib           | AVX      |
VEX.128.66.0F3A.W1 60 /r       | vpcmpestrmq Vdq, Wdq, Ib          | AVX      | deny=unknown
VEX.128.66.0F3A.W0 61 /r       | vpcmpestri Vdq, Wdq, Ib           | AVX      |
VEX.128.66.0F3A.W1 61 /r       | vpcmpestriq Vdq, Wdq, Ib          | AVX      | deny=unknown
VEX.128.66.0F3A.WIG 62 /r      | vpcmpistrm Vdq, Wdq, Ib           | AVX      |
VEX.128.66.0F3A.WIG 63 /r      | vpcmpistri Vdq, Wdq, Ib           | AVX      |

# ============================================================================
# AVX2 gathers. The memory operand is VSIB: its index is a vector register,
# one address per element, which no sandboxing rule can check. NaCl has no
# gathers at all. M gives the element size.
# ============================================================================
VEX.128/256.66.0F38.W0 90 /r   | vpgatherdd &Vx, Md, &Hx           | AVX2     | deny=unknown
VEX.128/256.66.0F38.W1 90 /r   | vpgatherdq &Vx, Mq, &Hx           | AVX2     | deny=unknown
VEX.128.66.0F38.W0 91 /r       | vpgatherqd &Vdq, Md, &Hdq         | AVX2     | deny=unknown
VEX.256.66.0F38.W0 91 /r       | vpgatherqd &Vdq, Md, &Hdq         | AVX2     | deny=unknown
VEX.128/256.66.0F38.W1 91 /r   | vpgatherqq &Vx, Mq, &Hx           | AVX2     | deny=unknown
VEX.128/256.66.0F38.W0 92 /r   | vgatherdps &Vx, Md, &Hx           | AVX2     | deny=unknown
VEX.128/256.66.0F38.W1 92 /r   | vgatherdpd &Vx, Mq, &Hx           | AVX2     | deny=unknown
VEX.128.66.0F38.W0 93 /r       | vgatherqps &Vdq, Md, &Hdq         | AVX2     | deny=unknown
VEX.256.66.0F38.W0 93 /r       | vgatherqps &Vdq, Md, &Hdq         | AVX2     | deny=unknown
VEX.128/256.66.0F38.W1 93 /r   | vgatherqpd &Vx, Mq, &Hx           | AVX2     | deny=unknown

# ============================================================================
# FMA3 (Intel/AMD fused multiply-add, 3 operands; the destination is also a
# source). Accepted by NaCl (extensions.test: c4 e2 71 99 d0).
# VEX.W selects ps/pd and ss/sd.
# ============================================================================
# ---- 132 forms: dst = dst*src3 + src2 --------------------------------------
VEX.128/256.66.0F38.W0 96 /r   | vfmaddsub132ps &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W1 96 /r   | vfmaddsub132pd &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W0 97 /r   | vfmsubadd132ps &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W1 97 /r   | vfmsubadd132pd &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W0 98 /r   | vfmadd132ps &Vx, Hx, Wx           | FMA      |
VEX.128/256.66.0F38.W1 98 /r   | vfmadd132pd &Vx, Hx, Wx           | FMA      |
VEX.LIG.66.0F38.W0 99 /r       | vfmadd132ss &Vdq, Hdq, Wd         | FMA      |
VEX.LIG.66.0F38.W1 99 /r       | vfmadd132sd &Vdq, Hdq, Wq         | FMA      |
VEX.128/256.66.0F38.W0 9A /r   | vfmsub132ps &Vx, Hx, Wx           | FMA      |
VEX.128/256.66.0F38.W1 9A /r   | vfmsub132pd &Vx, Hx, Wx           | FMA      |
VEX.LIG.66.0F38.W0 9B /r       | vfmsub132ss &Vdq, Hdq, Wd         | FMA      |
VEX.LIG.66.0F38.W1 9B /r       | vfmsub132sd &Vdq, Hdq, Wq         | FMA      |
VEX.128/256.66.0F38.W0 9C /r   | vfnmadd132ps &Vx, Hx, Wx          | FMA      |
VEX.128/256.66.0F38.W1 9C /r   | vfnmadd132pd &Vx, Hx, Wx          | FMA      |
VEX.LIG.66.0F38.W0 9D /r       | vfnmadd132ss &Vdq, Hdq, Wd        | FMA      |
VEX.LIG.66.0F38.W1 9D /r       | vfnmadd132sd &Vdq, Hdq, Wq        | FMA      |
VEX.128/256.66.0F38.W0 9E /r   | vfnmsub132ps &Vx, Hx, Wx          | FMA      |
VEX.128/256.66.0F38.W1 9E /r   | vfnmsub132pd &Vx, Hx, Wx          | FMA      |
VEX.LIG.66.0F38.W0 9F /r       | vfnmsub132ss &Vdq, Hdq, Wd        | FMA      |
VEX.LIG.66.0F38.W1 9F /r       | vfnmsub132sd &Vdq, Hdq, Wq        | FMA      |

# ---- 213 forms: dst = src2*dst + src3 --------------------------------------
VEX.128/256.66.0F38.W0 A6 /r   | vfmaddsub213ps &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W1 A6 /r   | vfmaddsub213pd &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W0 A7 /r   | vfmsubadd213ps &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W1 A7 /r   | vfmsubadd213pd &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W0 A8 /r   | vfmadd213ps &Vx, Hx, Wx           | FMA      |
VEX.128/256.66.0F38.W1 A8 /r   | vfmadd213pd &Vx, Hx, Wx           | FMA      |
VEX.LIG.66.0F38.W0 A9 /r       | vfmadd213ss &Vdq, Hdq, Wd         | FMA      |
VEX.LIG.66.0F38.W1 A9 /r       | vfmadd213sd &Vdq, Hdq, Wq         | FMA      |
VEX.128/256.66.0F38.W0 AA /r   | vfmsub213ps &Vx, Hx, Wx           | FMA      |
VEX.128/256.66.0F38.W1 AA /r   | vfmsub213pd &Vx, Hx, Wx           | FMA      |
VEX.LIG.66.0F38.W0 AB /r       | vfmsub213ss &Vdq, Hdq, Wd         | FMA      |
VEX.LIG.66.0F38.W1 AB /r       | vfmsub213sd &Vdq, Hdq, Wq         | FMA      |
VEX.128/256.66.0F38.W0 AC /r   | vfnmadd213ps &Vx, Hx, Wx          | FMA      |
VEX.128/256.66.0F38.W1 AC /r   | vfnmadd213pd &Vx, Hx, Wx          | FMA      |
VEX.LIG.66.0F38.W0 AD /r       | vfnmadd213ss &Vdq, Hdq, Wd        | FMA      |
VEX.LIG.66.0F38.W1 AD /r       | vfnmadd213sd &Vdq, Hdq, Wq        | FMA      |
VEX.128/256.66.0F38.W0 AE /r   | vfnmsub213ps &Vx, Hx, Wx          | FMA      |
VEX.128/256.66.0F38.W1 AE /r   | vfnmsub213pd &Vx, Hx, Wx          | FMA      |
VEX.LIG.66.0F38.W0 AF /r       | vfnmsub213ss &Vdq, Hdq, Wd        | FMA      |
VEX.LIG.66.0F38.W1 AF /r       | vfnmsub213sd &Vdq, Hdq, Wq        | FMA      |

# ---- 231 forms: dst = src2*src3 + dst --------------------------------------
VEX.128/256.66.0F38.W0 B6 /r   | vfmaddsub231ps &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W1 B6 /r   | vfmaddsub231pd &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W0 B7 /r   | vfmsubadd231ps &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W1 B7 /r   | vfmsubadd231pd &Vx, Hx, Wx        | FMA      |
VEX.128/256.66.0F38.W0 B8 /r   | vfmadd231ps &Vx, Hx, Wx           | FMA      |
VEX.128/256.66.0F38.W1 B8 /r   | vfmadd231pd &Vx, Hx, Wx           | FMA      |
VEX.LIG.66.0F38.W0 B9 /r       | vfmadd231ss &Vdq, Hdq, Wd         | FMA      |
VEX.LIG.66.0F38.W1 B9 /r       | vfmadd231sd &Vdq, Hdq, Wq         | FMA      |
VEX.128/256.66.0F38.W0 BA /r   | vfmsub231ps &Vx, Hx, Wx           | FMA      |
VEX.128/256.66.0F38.W1 BA /r   | vfmsub231pd &Vx, Hx, Wx           | FMA      |
VEX.LIG.66.0F38.W0 BB /r       | vfmsub231ss &Vdq, Hdq, Wd         | FMA      |
VEX.LIG.66.0F38.W1 BB /r       | vfmsub231sd &Vdq, Hdq, Wq         | FMA      |
VEX.128/256.66.0F38.W0 BC /r   | vfnmadd231ps &Vx, Hx, Wx          | FMA      |
VEX.128/256.66.0F38.W1 BC /r   | vfnmadd231pd &Vx, Hx, Wx          | FMA      |
VEX.LIG.66.0F38.W0 BD /r       | vfnmadd231ss &Vdq, Hdq, Wd        | FMA      |
VEX.LIG.66.0F38.W1 BD /r       | vfnmadd231sd &Vdq, Hdq, Wq        | FMA      |
VEX.128/256.66.0F38.W0 BE /r   | vfnmsub231ps &Vx, Hx, Wx          | FMA      |
VEX.128/256.66.0F38.W1 BE /r   | vfnmsub231pd &Vx, Hx, Wx          | FMA      |
VEX.LIG.66.0F38.W0 BF /r       | vfnmsub231ss &Vdq, Hdq, Wd        | FMA      |
VEX.LIG.66.0F38.W1 BF /r       | vfnmsub231sd &Vdq, Hdq, Wq        | FMA      |

# ============================================================================
# F16C half-precision conversions
# ============================================================================
VEX.128.66.0F38.W0 13 /r       | vcvtph2ps =Vdq, Wq                | F16C     | deny=unsupported
VEX.256.66.0F38.W0 13 /r       | vcvtph2ps =Vqq, Wdq               | F16C     | deny=unsupported
VEX.128.66.0F3A.W0 1D /r       | vcvtps2ph =Wq, Vdq, Ib            | F16C     | deny=unsupported
VEX.256.66.0F3A.W0 1D /r       | vcvtps2ph =Wdq, Vqq, Ib           | F16C     | deny=unsupported

# ============================================================================
# AES with VEX encoding (128-bit only). The legacy AES forms were rejected in
# the NaCl corpus of the era (sse.test), so these are treated the same.
# ============================================================================
VEX.128.66.0F38.WIG DB /r      | vaesimc =Vdq, Wdq                 | AES      | deny=unsupported
VEX.128.66.0F38.WIG DC /r      | vaesenc =Vdq, Hdq, Wdq            | AES      | deny=unsupported
VEX.128.66.0F38.WIG DD /r      | vaesenclast =Vdq, Hdq, Wdq        | AES      | deny=unsupported
VEX.128.66.0F38.WIG DE /r      | vaesdec =Vdq, Hdq, Wdq            | AES      | deny=unsupported
VEX.128.66.0F38.WIG DF /r      | vaesdeclast =Vdq, Hdq, Wdq        | AES      | deny=unsupported
VEX.128.66.0F3A.WIG DF /r      | vaeskeygenassist =Vdq, Wdq, Ib    | AES      | deny=unsupported

# ============================================================================
# PCLMULQDQ with VEX encoding (the CPU needs AVX as well as CLMUL). NaCl
# allows it; the pseudo-op names for fixed imm8 values (vpclmullqlqdq, ...)
# are just this form.
# ============================================================================
VEX.128.66.0F3A.WIG 44 /r      | vpclmulqdq =Vdq, Hdq, Wdq, Ib     | CLMUL    | deny=unsupported

# ============================================================================
# AMD FMA4 (4 operands, the fourth in imm8[7:4]; VEX.W swaps which of the
# two sources may be memory). NaCl rejects FMA4 ("not supported by validator
# currently", extensions.test / sse.test: c4 e3 e1 6b d8 10, c4 e3 f1 69 d8 20).
# ============================================================================
VEX.128/256.66.0F3A.W0 5C /r   | vfmaddsubps =Vx, Hx, Wx, Lx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 5C /r   | vfmaddsubps =Vx, Hx, Lx, Wx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 5D /r   | vfmaddsubpd =Vx, Hx, Wx, Lx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 5D /r   | vfmaddsubpd =Vx, Hx, Lx, Wx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 5E /r   | vfmsubaddps =Vx, Hx, Wx, Lx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 5E /r   | vfmsubaddps =Vx, Hx, Lx, Wx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 5F /r   | vfmsubaddpd =Vx, Hx, Wx, Lx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 5F /r   | vfmsubaddpd =Vx, Hx, Lx, Wx       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 68 /r   | vfmaddps =Vx, Hx, Wx, Lx          | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 68 /r   | vfmaddps =Vx, Hx, Lx, Wx          | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 69 /r   | vfmaddpd =Vx, Hx, Wx, Lx          | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 69 /r   | vfmaddpd =Vx, Hx, Lx, Wx          | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 6A /r       | vfmaddss =Vdq, Hdq, Wd, Ldq       | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 6A /r       | vfmaddss =Vdq, Hdq, Ldq, Wd       | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 6B /r       | vfmaddsd =Vdq, Hdq, Wq, Ldq       | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 6B /r       | vfmaddsd =Vdq, Hdq, Ldq, Wq       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 6C /r   | vfmsubps =Vx, Hx, Wx, Lx          | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 6C /r   | vfmsubps =Vx, Hx, Lx, Wx          | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 6D /r   | vfmsubpd =Vx, Hx, Wx, Lx          | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 6D /r   | vfmsubpd =Vx, Hx, Lx, Wx          | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 6E /r       | vfmsubss =Vdq, Hdq, Wd, Ldq       | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 6E /r       | vfmsubss =Vdq, Hdq, Ldq, Wd       | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 6F /r       | vfmsubsd =Vdq, Hdq, Wq, Ldq       | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 6F /r       | vfmsubsd =Vdq, Hdq, Ldq, Wq       | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 78 /r   | vfnmaddps =Vx, Hx, Wx, Lx         | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 78 /r   | vfnmaddps =Vx, Hx, Lx, Wx         | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 79 /r   | vfnmaddpd =Vx, Hx, Wx, Lx         | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 79 /r   | vfnmaddpd =Vx, Hx, Lx, Wx         | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 7A /r       | vfnmaddss =Vdq, Hdq, Wd, Ldq      | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 7A /r       | vfnmaddss =Vdq, Hdq, Ldq, Wd      | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 7B /r       | vfnmaddsd =Vdq, Hdq, Wq, Ldq      | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 7B /r       | vfnmaddsd =Vdq, Hdq, Ldq, Wq      | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 7C /r   | vfnmsubps =Vx, Hx, Wx, Lx         | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 7C /r   | vfnmsubps =Vx, Hx, Lx, Wx         | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W0 7D /r   | vfnmsubpd =Vx, Hx, Wx, Lx         | FMA4     | deny=unknown
VEX.128/256.66.0F3A.W1 7D /r   | vfnmsubpd =Vx, Hx, Lx, Wx         | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 7E /r       | vfnmsubss =Vdq, Hdq, Wd, Ldq      | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 7E /r       | vfnmsubss =Vdq, Hdq, Ldq, Wd      | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W0 7F /r       | vfnmsubsd =Vdq, Hdq, Wq, Ldq      | FMA4     | deny=unknown
VEX.LIG.66.0F3A.W1 7F /r       | vfnmsubsd =Vdq, Hdq, Ldq, Wq      | FMA4     | deny=unknown

# ============================================================================
# BMI1 (VEX-encoded general-purpose instructions; VEX.L must be 0, VEX.W
# selects 32/64 bits). None is "zx": NaCl does not treat them as
# zero-extending "out of caution" (they are for bit manipulation, not for
# computing addresses). tzcnt (F3 0F BC) is a legacy encoding, not here.
# ============================================================================
VEX.128.NP.0F38.W0 F2 /r       | andn =Gd, Bd, Ed                  | BMI1     | deny=unsupported
VEX.128.NP.0F38.W1 F2 /r       | andn =Gq, Bq, Eq                  | BMI1     | deny=unsupported
VEX.128.NP.0F38.W0 F3 /1       | blsr =Bd, Ed                      | BMI1     | deny=unsupported
VEX.128.NP.0F38.W1 F3 /1       | blsr =Bq, Eq                      | BMI1     | deny=unsupported
VEX.128.NP.0F38.W0 F3 /2       | blsmsk =Bd, Ed                    | BMI1     | deny=unsupported
VEX.128.NP.0F38.W1 F3 /2       | blsmsk =Bq, Eq                    | BMI1     | deny=unsupported
VEX.128.NP.0F38.W0 F3 /3       | blsi =Bd, Ed                      | BMI1     | deny=unsupported
VEX.128.NP.0F38.W1 F3 /3       | blsi =Bq, Eq                      | BMI1     | deny=unsupported
VEX.128.NP.0F38.W0 F7 /r       | bextr =Gd, Ed, Bd                 | BMI1     | deny=unsupported
VEX.128.NP.0F38.W1 F7 /r       | bextr =Gq, Eq, Bq                 | BMI1     | deny=unsupported

# ============================================================================
# BMI2: NaCl's instruction definitions have no BMI2 at all, so every form is
# decoded (for exact lengths and messages) but refused.
# ============================================================================
VEX.128.NP.0F38.W0 F5 /r       | bzhi =Gd, Ed, Bd                  | BMI2     | deny=unknown
VEX.128.NP.0F38.W1 F5 /r       | bzhi =Gq, Eq, Bq                  | BMI2     | deny=unknown
VEX.128.F3.0F38.W0 F5 /r       | pext =Gd, Bd, Ed                  | BMI2     | deny=unknown
VEX.128.F3.0F38.W1 F5 /r       | pext =Gq, Bq, Eq                  | BMI2     | deny=unknown
VEX.128.F2.0F38.W0 F5 /r       | pdep =Gd, Bd, Ed                  | BMI2     | deny=unknown
VEX.128.F2.0F38.W1 F5 /r       | pdep =Gq, Bq, Eq                  | BMI2     | deny=unknown
VEX.128.F2.0F38.W0 F6 /r       | mulx =Gd, =Bd, Ed                 | BMI2     | deny=unknown
VEX.128.F2.0F38.W1 F6 /r       | mulx =Gq, =Bq, Eq                 | BMI2     | deny=unknown
VEX.128.66.0F38.W0 F7 /r       | shlx =Gd, Ed, Bd                  | BMI2     | deny=unknown
VEX.128.66.0F38.W1 F7 /r       | shlx =Gq, Eq, Bq                  | BMI2     | deny=unknown
VEX.128.F3.0F38.W0 F7 /r       | sarx =Gd, Ed, Bd                  | BMI2     | deny=unknown
VEX.128.F3.0F38.W1 F7 /r       | sarx =Gq, Eq, Bq                  | BMI2     | deny=unknown
VEX.128.F2.0F38.W0 F7 /r       | shrx =Gd, Ed, Bd                  | BMI2     | deny=unknown
VEX.128.F2.0F38.W1 F7 /r       | shrx =Gq, Eq, Bq                  | BMI2     | deny=unknown
VEX.128.F2.0F3A.W0 F0 /r       | rorx =Gd, Ed, Ib                  | BMI2     | deny=unknown
VEX.128.F2.0F3A.W1 F0 /r       | rorx =Gq, Eq, Ib                  | BMI2     | deny=unknown
` };
