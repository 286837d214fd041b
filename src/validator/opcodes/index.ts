/**
 * Every opcode table, in lookup order. When two lines match the same bytes,
 * the earlier one wins (e.g. a mandatory-prefix SSE form before a plain one).
 */
import { parseTable, type FormSpec, type OpcodeTable } from './grammar.js';
import { LEGACY_TABLE } from './legacy.js';
import { SYSTEM_0F_TABLE } from './system0f.js';
import { SSE_0F_TABLE } from './sse0f.js';
import { SSE_0F38_TABLE } from './sse0f38.js';
import { SSE_0F3A_TABLE } from './sse0f3a.js';
import { MMX_TABLE } from './mmx.js';
import { AMD_3DNOW_TABLE } from './amd3dnow.js';
import { X87_TABLE } from './x87.js';
import { VEX_TABLE } from './vex.js';

export const OPCODE_TABLES: readonly OpcodeTable[] = [
  LEGACY_TABLE,
  SYSTEM_0F_TABLE,
  SSE_0F_TABLE,
  SSE_0F38_TABLE,
  SSE_0F3A_TABLE,
  MMX_TABLE,
  AMD_3DNOW_TABLE,
  X87_TABLE,
  VEX_TABLE,
];

/** All forms of all tables, parsed (throws TableSyntaxError on a bad line). */
export function allFormSpecs(): FormSpec[] {
  return OPCODE_TABLES.flatMap(parseTable);
}
