/**
 * Wraps raw x86-64 text bytes into a minimal valid nexe for tests: an ELF64
 * executable with one R+X PT_LOAD segment at 0x20000 (file offset 0x1000),
 * entry at its first byte, EI_OSABI 123 and EI_ABIVERSION 7 (the rules in
 * spec/validator.md, "Programs"). The text is padded with hlt (0xf4) to a
 * whole 32-byte bundle.
 */
const TEXT_ADDRESS = 0x20000;
const TEXT_OFFSET = 0x1000;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;

export function buildNexe(text: Uint8Array | string): Uint8Array {
  const code = typeof text === 'string' ? Buffer.from(text.replace(/\s+/g, ''), 'hex') : text;
  const size = Math.max(32, Math.ceil(code.length / 32) * 32);
  const bytes = new Uint8Array(TEXT_OFFSET + size);
  bytes.fill(0xf4, TEXT_OFFSET);
  bytes.set(code, TEXT_OFFSET);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 123, 7]); /* ELF64, little endian, version 1, NaCl OSABI 123, ABI 7 */
  view.setUint16(16, 2, true); /* ET_EXEC */
  view.setUint16(18, 62, true); /* EM_X86_64 */
  view.setUint32(20, 1, true); /* EV_CURRENT */
  view.setBigUint64(24, BigInt(TEXT_ADDRESS), true); /* e_entry */
  view.setBigUint64(32, BigInt(EHDR_SIZE), true); /* e_phoff */
  view.setUint16(52, EHDR_SIZE, true); /* e_ehsize */
  view.setUint16(54, PHDR_SIZE, true); /* e_phentsize */
  view.setUint16(56, 1, true); /* e_phnum */
  view.setUint16(58, 64, true); /* e_shentsize (no section headers) */
  const ph = EHDR_SIZE;
  view.setUint32(ph, 1, true); /* PT_LOAD */
  view.setUint32(ph + 4, 5, true); /* PF_R | PF_X */
  view.setBigUint64(ph + 8, BigInt(TEXT_OFFSET), true);
  view.setBigUint64(ph + 16, BigInt(TEXT_ADDRESS), true);
  view.setBigUint64(ph + 24, BigInt(TEXT_ADDRESS), true);
  view.setBigUint64(ph + 32, BigInt(size), true);
  view.setBigUint64(ph + 40, BigInt(size), true);
  view.setBigUint64(ph + 48, 0x1000n, true);
  return bytes;
}
