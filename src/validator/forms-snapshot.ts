/**
 * The compiled opcode tables as text, and back: what lets the command-line
 * bundle carry the tables compiled at build time (`forms-precompiled.ts`)
 * instead of compiling them at every process start.
 *
 * Pipeline position: `forms.ts` compiles the tables (`CompiledForms`);
 * `serializeCompiledForms` turns every typed array into base64 inside one
 * JSON text; `deserializeCompiledForms` rebuilds the arrays. The FormSpec
 * objects are not serialized: they are parsed from the text tables on
 * first use (`forms`), which only messages, disassembly and the embedding
 * API's instruction details read; validation reads the arrays alone.
 */
import type { FormSpec } from './opcodes/grammar.js';
import type { CompiledForms, PolicyForms } from './forms.js';
import { POLICIES, type ValidationPolicy } from './policies.js';

type ArrayField = Exclude<keyof CompiledForms, 'forms' | 'policy' | 'flags' | 'deny'>;

/** The per-form and per-opcode arrays, besides the per-policy ones. */
const ARRAY_FIELDS = [
  'prefix', 'modrmReg', 'modrmLiteral', 'modrmRange', 'w', 'vexL', 'suffix', 'operandCount', 'operands', 'feature',
  'immediates', 'writes', 'writeCount', 'candidateStart', 'candidates', 'keyHasModrm',
] as const satisfies readonly ArrayField[];

/* every array field is listed: a field added to CompiledForms and not here fails to typecheck */
type Missing = Exclude<ArrayField, (typeof ARRAY_FIELDS)[number]>;
const ALL_LISTED: Missing extends never ? true : Missing = true;
void ALL_LISTED;

const ARRAY_TYPES = {
  Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array,
} as const;
type ArrayTypeName = keyof typeof ARRAY_TYPES;
type AnyArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** One typed array: its constructor's name and its bytes in base64 (little-endian, as every host this runs on). */
type EncodedArray = readonly [ArrayTypeName, string];

interface Snapshot {
  readonly formCount: number;
  readonly arrays: Readonly<Record<string, EncodedArray>>;
  readonly policy: Readonly<Record<string, { readonly flags: EncodedArray; readonly deny: EncodedArray }>>;
}

/** A snapshot that does not fit this build's tables: a build bug, never user input. */
export class FormsSnapshotError extends Error {
  constructor(message: string) {
    super(`the precompiled opcode tables are unusable (${message}); rebuild with \`npm run build\``);
    this.name = 'FormsSnapshotError';
  }
}

function encode(array: AnyArray): EncodedArray {
  const name = array.constructor.name;
  if (!(name in ARRAY_TYPES)) throw new FormsSnapshotError(`unexpected array type ${name}`);
  return [name as ArrayTypeName, Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64')];
}

function decode(encoded: EncodedArray | undefined, what: string): AnyArray {
  if (!Array.isArray(encoded) || encoded.length !== 2) throw new FormsSnapshotError(`${what} is missing`);
  const [name, base64] = encoded;
  const Type = ARRAY_TYPES[name];
  if (Type === undefined || typeof base64 !== 'string') throw new FormsSnapshotError(`${what} is malformed`);
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.byteLength % Type.BYTES_PER_ELEMENT !== 0) throw new FormsSnapshotError(`${what} has a partial element`);
  /* a copy into its own buffer: Buffer.from may return an unaligned view of a shared pool */
  const array = new Type(bytes.byteLength / Type.BYTES_PER_ELEMENT);
  new Uint8Array(array.buffer).set(bytes);
  return array;
}

export function serializeCompiledForms(forms: CompiledForms): string {
  const arrays: Record<string, EncodedArray> = {};
  for (const field of ARRAY_FIELDS) arrays[field] = encode(forms[field]);
  const policy: Record<string, { flags: EncodedArray; deny: EncodedArray }> = {};
  for (const p of POLICIES) policy[p] = { flags: encode(forms.policy[p].flags), deny: encode(forms.policy[p].deny) };
  const snapshot: Snapshot = { formCount: forms.operandCount.length, arrays, policy };
  return JSON.stringify(snapshot);
}

/**
 * Rebuilds the tables; `parseForms` gives the FormSpec objects when they
 * are first read (they must be the forms the snapshot was compiled from).
 */
export function deserializeCompiledForms(text: string, parseForms: () => FormSpec[]): CompiledForms {
  const snapshot = JSON.parse(text) as Snapshot;
  const n = snapshot.formCount;
  const arrays: Partial<Record<ArrayField, AnyArray>> = {};
  for (const field of ARRAY_FIELDS) arrays[field] = decode(snapshot.arrays?.[field], field);
  const policy = {} as Record<ValidationPolicy, PolicyForms>;
  for (const p of POLICIES) {
    const entry = snapshot.policy?.[p];
    policy[p] = { flags: decode(entry?.flags, `${p} flags`) as Uint32Array, deny: decode(entry?.deny, `${p} deny`) as Uint8Array };
    if (policy[p].flags.length !== n || policy[p].deny.length !== n) throw new FormsSnapshotError(`the ${p} arrays do not have ${n} forms`);
  }
  if (arrays.operandCount?.length !== n) throw new FormsSnapshotError(`operandCount does not have ${n} forms`);
  let forms: FormSpec[] | undefined;
  return {
    ...(arrays as Record<ArrayField, AnyArray> as unknown as Omit<CompiledForms, 'forms' | 'policy' | 'flags' | 'deny'>),
    flags: policy.nacl.flags,
    deny: policy.nacl.deny,
    policy,
    get forms(): readonly FormSpec[] {
      if (forms === undefined) {
        const parsed = parseForms();
        if (parsed.length !== n) throw new FormsSnapshotError(`${n} forms were compiled, the tables now have ${parsed.length}`);
        forms = parsed;
      }
      return forms;
    },
  };
}
