/**
 * (being written) Opcode table: mmx. Grammar: see `grammar.ts`.
 */
export const MMX_TABLE = String.raw`
`;
