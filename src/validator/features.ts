/**
 * CPU features (CPUID bits) that instruction forms may need.
 *
 * The feature column of every opcode table names one of these keys. A
 * validator run gets a feature set (default: all); a form whose feature is
 * not in the set is reported as `cpu-feature-missing`, so a user can check a
 * binary against the CPU it will run on (`zerovm validate --features`).
 */

export const CPU_FEATURES = {
  '-': 'base x86-64 instruction set',
  x87: 'x87 floating point',
  CMOV: 'conditional moves',
  CX8: 'cmpxchg8b',
  CX16: 'cmpxchg16b',
  TSC: 'time stamp counter (rdtsc)',
  LAHF: 'lahf/sahf in 64-bit mode',
  MMX: 'MMX',
  EMMX: 'MMX extensions (AMD) or SSE integer MMX instructions',
  '3DNOW': 'AMD 3DNow!',
  E3DNOW: 'AMD extended 3DNow!',
  PREFETCHW: 'prefetchw',
  SSE: 'SSE',
  SSE2: 'SSE2',
  SSE3: 'SSE3',
  SSSE3: 'SSSE3',
  SSE41: 'SSE4.1',
  SSE42: 'SSE4.2',
  SSE4A: 'AMD SSE4a',
  POPCNT: 'popcnt',
  LZCNT: 'lzcnt',
  MOVBE: 'movbe',
  AES: 'AES-NI',
  CLMUL: 'carry-less multiplication (pclmulqdq)',
  AVX: 'AVX',
  AVX2: 'AVX2',
  F16C: 'half-precision conversions',
  FMA: 'FMA3',
  FMA4: 'AMD FMA4',
  BMI1: 'bit manipulation instructions 1',
  BMI2: 'bit manipulation instructions 2',
  TBM: 'AMD trailing bit manipulation',
  FXSR: 'fxsave/fxrstor',
  XSAVE: 'xsave family',
  CLFLUSH: 'clflush',
} as const;

export type CpuFeature = keyof typeof CPU_FEATURES;

export const ALL_FEATURES: readonly CpuFeature[] = Object.keys(CPU_FEATURES) as CpuFeature[];

export function isCpuFeature(name: string): name is CpuFeature {
  return Object.prototype.hasOwnProperty.call(CPU_FEATURES, name);
}

/** Bit index of each feature, for the compiled tables. */
export const FEATURE_BIT: Readonly<Record<CpuFeature, number>> = Object.fromEntries(
  ALL_FEATURES.map((name, index) => [name, index]),
) as Record<CpuFeature, number>;

/**
 * Parses a `--features` value: `all`, `none`, or a comma list where `-NAME`
 * removes and `NAME`/`+NAME` adds, starting from all features when the list
 * begins with a removal and from the base set otherwise.
 */
export function parseFeatureList(spec: string): Set<CpuFeature> | string {
  const text = spec.trim();
  if (text === 'all') return new Set(ALL_FEATURES);
  if (text === 'none' || text === '') return new Set<CpuFeature>(['-']);
  const items = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const startFromAll = items[0]?.startsWith('-') ?? false;
  const set = new Set<CpuFeature>(startFromAll ? ALL_FEATURES : ['-']);
  for (const item of items) {
    const remove = item.startsWith('-');
    const name = item.replace(/^[+-]/, '');
    if (!isCpuFeature(name) || name === '-') {
      return `unknown CPU feature '${name}' (known: ${ALL_FEATURES.filter((f) => f !== '-').join(', ')})`;
    }
    if (remove) set.delete(name);
    else set.add(name);
  }
  return set;
}
