/**
 * The two-byte map (0F xx): general-purpose and system instructions.
 *
 * Grammar: see `grammar.ts`. SSE/MMX forms of the same map live in
 * `sse0f.ts`; 0F 38 / 0F 3A in `sse0f38.ts` / `sse0f3a.ts`; 3DNow! (0F 0F)
 * in `amd3dnow.ts`.
 *
 * Sandbox notes:
 * - `bt/bts/btr/btc` with a register bit offset can address memory far
 *   beyond the operand (the offset is a signed 64-bit bit index), so only
 *   the immediate forms are allowed, as in NaCl.
 * - `bsf`/`bsr` leave the destination undefined when the source is zero, and
 *   `cmov` may be a no-op: neither may produce a restricted register.
 * - `rdtsc`, `rdtscp`, `cpuid`, `rdrand`, `rdseed` observe the machine; the
 *   deterministic policy rejects the `nondet` ones; ZeroVM 2015 (the
 *   `zerovm` policy) already refused rdtsc, but not cpuid.
 */
export const SYSTEM_0F_TABLE = { name: 'system0f', file: 'system0f.ts', line: 18, text: String.raw`
# ---- system and privileged -------------------------------------------------------
0F 00 /0     | sldt =Mw           | - | deny=privileged
0F 00 /1     | str =Mw            | - | deny=privileged
0F 00 /0     | sldt =Rv           | - | deny=privileged
0F 00 /1     | str =Rv            | - | deny=privileged
0F 00 /2     | lldt Ew            | - | deny=privileged
0F 00 /3     | ltr Ew             | - | deny=privileged
0F 00 /4     | verr Ew            | - | deny=privileged
0F 00 /5     | verw Ew            | - | deny=privileged
0F 01 /0     | sgdt M             | - | deny=privileged
0F 01 /1     | sidt M             | - | deny=privileged
0F 01 /2     | lgdt M             | - | deny=privileged
0F 01 /3     | lidt M             | - | deny=privileged
0F 01 /4     | smsw =Mw           | - | deny=privileged
0F 01 /4     | smsw =Rv           | - | deny=privileged
0F 01 /6     | lmsw Ew            | - | deny=privileged
0F 01 /7     | invlpg M           | - | deny=privileged
# monitor/mwait/xgetbv: NaCl decodes them and refuses their CPU features,
# so validation goes on after them (deny=unsupported, not fatal).
NP 0F 01 C8  | monitor            | - | deny=unsupported
NP 0F 01 C9  | mwait              | - | deny=unsupported
NP 0F 01 CA  | clac               | - | deny=privileged
NP 0F 01 CB  | stac               | - | deny=privileged
NP 0F 01 D0  | xgetbv             | XSAVE | deny=unsupported
NP 0F 01 D1  | xsetbv             | XSAVE | deny=privileged
0F 01 F8     | swapgs             | - | deny=privileged
0F 01 F9     | rdtscp             | TSC | deny=privileged
0F 05        | syscall            | - | deny=syscall
0F 06        | clts               | - | deny=privileged
0F 07        | sysretd            | - | deny=privileged
0F 08        | invd               | - | deny=privileged
NP 0F 09     | wbinvd             | - | deny=privileged
0F 0B        | ud2                | - | norex
0F 20 /r     | mov =Rq, Cq        | - | deny=privileged
0F 21 /r     | mov =Rq, Dq        | - | deny=privileged
0F 22 /r     | mov =Cq, Rq        | - | deny=privileged
0F 23 /r     | mov =Dq, Rq        | - | deny=privileged
0F 30        | wrmsr              | - | deny=privileged
0F 31        | rdtsc              | TSC | nondet zerovm:deny=clock
0F 32        | rdmsr              | - | deny=privileged
0F 33        | rdpmc              | - | deny=privileged
0F 34        | sysenter           | - | deny=syscall
0F 35        | sysexitd           | - | deny=privileged
0F AA        | rsm                | - | deny=privileged
0F A2        | cpuid              | - | nondet
0F FF /r     | ud0 Gv, Ev         | - | deny=legacy
0F B9 /r     | ud1 Gv, Ev         | - | deny=legacy

# ---- segment registers --------------------------------------------------------------
0F A0        | push FS            | - | deny=segment
0F A1        | pop FS             | - | deny=segment
0F A8        | push GS            | - | deny=segment
0F A9        | pop GS             | - | deny=segment
0F B2 /r     | lss =Gv, M         | - | deny=segment
0F B4 /r     | lfs =Gv, M         | - | deny=segment
0F B5 /r     | lgs =Gv, M         | - | deny=segment

# ---- prefetch and hint nops --------------------------------------------------------
# Prefetches never fault and never write, so their address is not checked.
0F 0D /0     | prefetch M         | 3DNOW | noaddr
0F 0D /1     | prefetchw M        | PREFETCHW | noaddr
# /3 is a reserved alias of prefetchw (AMD); NaCl accepts it.
0F 0D /3     | prefetchw M        | PREFETCHW | noaddr
0F 18 /0     | prefetchnta M      | SSE | noaddr
0F 18 /1     | prefetcht0 M       | SSE | noaddr
0F 18 /2     | prefetcht1 M       | SSE | noaddr
0F 18 /3     | prefetcht2 M       | SSE | noaddr
# The multi-byte nop. NaCl drops the 16-bit version; the recommended padding
# nops with 66 and 2E prefixes are whitelisted byte for byte by the validator.
0F 1F /0     | nop Ev             | - | noaddr no66

# ---- conditional moves, jumps and sets ----------------------------------------------
0F 40+cc /r  | cmovcc =Gv, Ev     | CMOV |
0F 80+cc     | jcc Jz             | - | no66 hint
0F 90+cc /r  | setcc =Eb          | - |

# ---- bit instructions ---------------------------------------------------------------
0F A3 /r     | bt Ev, Gv          | - | deny=btmem
0F AB /r     | bts &Ev, Gv        | - | lock deny=btmem
0F B3 /r     | btr &Ev, Gv        | - | lock deny=btmem
0F BB /r     | btc &Ev, Gv        | - | lock deny=btmem
0F BA /4     | bt Ev, Ib          | - |
0F BA /5     | bts &Ev, Ib        | - | lock
0F BA /6     | btr &Ev, Ib        | - | lock
0F BA /7     | btc &Ev, Ib        | - | lock
0F BC /r     | bsf =Gv, Ev        | - |
0F BD /r     | bsr =Gv, Ev        | - |
F3 0F B8 /r  | popcnt =Gv, Ev     | POPCNT | no66
F3 0F BC /r  | tzcnt =Gv, Ev      | BMI1 | no66
F3 0F BD /r  | lzcnt =Gv, Ev      | LZCNT | no66
# 16-bit bswap is undefined (the CPU's result differs between models).
0F C8+r      | bswap &Zv          | - | no66

# ---- double shifts, multiply, exchange ------------------------------------------------
0F A4 /r     | shld &Ev, Gv, Ib   | - |
0F A5 /r     | shld &Ev, Gv, CL   | - |
0F AC /r     | shrd &Ev, Gv, Ib   | - |
0F AD /r     | shrd &Ev, Gv, CL   | - |
0F AF /r     | imul &Gv, Ev       | - | zx
# cmpxchg writes the accumulator or its first operand depending on the
# comparison; NaCl treats both explicit operands as written, never zero-extending.
0F B0 /r     | cmpxchg &Eb, &Gb   | - | lock
0F B1 /r     | cmpxchg &Ev, &Gv   | - | lock
0F C0 /r     | xadd &Eb, &Gb      | - | lock
0F C1 /r     | xadd &Rv, &Gv      | - | zx
0F C1 /r     | xadd &Mv, &Gv      | - | lock
0F C7 /1 W0  | cmpxchg8b &Mq      | CX8 | lock
0F C7 /1 W1  | cmpxchg16b &Mdq    | CX16 | lock
NP 0F C7 /6  | rdrand =Rv         | - | deny=unknown
66 0F C7 /6 W0 | rdrand =Rw       | - | deny=unknown
66 0F C7 /6 W1 | rdrand =Rq       | - | deny=unknown
NP 0F C7 /7  | rdseed =Rv         | - | deny=unknown
66 0F C7 /7 W0 | rdseed =Rw       | - | deny=unknown
66 0F C7 /7 W1 | rdseed =Rq       | - | deny=unknown

# ---- zero and sign extension -----------------------------------------------------------
0F B6 /r     | movzx =Gv, Eb      | - | zx
0F B7 /r     | movzx =Gv, Ew      | - | zx
0F BE /r     | movsx =Gv, Eb      | - | zx
0F BF /r     | movsx =Gv, Ew      | - | zx
0F 38 F0 /r  | movbe =Gv, Mv      | MOVBE |
0F 38 F1 /r  | movbe =Mv, Gv      | MOVBE |
F2 0F 38 F0 /r | crc32 &Gy, Eb    | SSE42 |
# ZeroVM 2015 refuses the 16-bit form (66 F2 0F 38 F1).
F2 0F 38 F1 /r | crc32 &Gy, Ev    | SSE42 | zerovm:no66

# ---- state save and fences -------------------------------------------------------------
# fxsave/fxrstor: decoded by NaCl, feature refused (validation goes on).
NP 0F AE /0  | fxsave =M          | FXSR | deny=unsupported
NP 0F AE /1  | fxrstor M          | FXSR | deny=unsupported
NP 0F AE /2  | ldmxcsr Md         | SSE |
NP 0F AE /3  | stmxcsr =Md        | SSE |
NP 0F AE /4  | xsave =M           | XSAVE | deny=unsupported
NP 0F AE /5  | xrstor M           | XSAVE | deny=unsupported
NP 0F AE /6  | xsaveopt =M        | XSAVE | deny=unsupported
# NaCl does not know clflush; ZeroVM 2015 accepts it with the usual memory rules.
NP 0F AE /7  | clflush M          | CLFLUSH | deny=unknown zerovm:allow
# The fences ignore ModRM.rm; NaCl accepts only rm = 0 (the exact line
# wins over the +i line after it).
NP 0F AE E8  | lfence             | SSE2 |
NP 0F AE F0  | mfence             | SSE2 |
NP 0F AE F8  | sfence             | SSE |
NP 0F AE E8+i | lfence            | SSE2 | deny=legacy
NP 0F AE F0+i | mfence            | SSE2 | deny=legacy
NP 0F AE F8+i | sfence            | SSE | deny=legacy
` };
