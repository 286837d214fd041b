/**
 * (being written) Opcode table: x87. Grammar: see `grammar.ts`.
 */
export const X87_TABLE = String.raw`
`;
