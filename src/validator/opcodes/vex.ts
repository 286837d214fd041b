/**
 * (being written) Opcode table: vex. Grammar: see `grammar.ts`.
 */
export const VEX_TABLE = String.raw`
`;
