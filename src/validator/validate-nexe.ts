/**
 * Validating a whole program: find the text segment by ZeroVM's ELF rules,
 * then validate it at its load address.
 *
 * Pipeline position: CLI `zerovm validate` and the loader -> here ->
 * `readNexe` (src/elf/nexe.ts) + `validate` (validate.ts).
 */
import { NexeFormatError, readNexe, textBytes, type NexeImage, type ReadNexeOptions } from '../elf/nexe.js';
import { validate, type ValidateOptions, type ValidationResult } from './validate.js';

export interface NexeValidation {
  readonly image: NexeImage;
  readonly result: ValidationResult;
}

export type NexeValidationOutcome =
  | { readonly ok: true; readonly value: NexeValidation }
  | { readonly ok: false; readonly error: NexeFormatError };

/**
 * Validates a nexe's text. A malformed ELF is returned as an error value
 * (never thrown), so callers can tell "unusable input" from "unsafe code".
 */
export function validateNexe(bytes: Uint8Array, options: Omit<ValidateOptions, 'base'> & ReadNexeOptions = {}): NexeValidationOutcome {
  let image: NexeImage;
  try {
    image = readNexe(bytes, options);
  } catch (error) {
    if (error instanceof NexeFormatError) return { ok: false, error };
    throw error;
  }
  // The runtime fills the text's tail with hlt up to the next 64 KiB page, so
  // a partial last bundle is validated as hlt-padded, as it will run.
  const result = validate(textBytes(bytes, image), { ...options, base: image.text.vaddr, padByte: 0xf4 });
  return { ok: true, value: { image, result } };
}
