/**
 * (being written) Opcode table: amd3dnow. Grammar: see `grammar.ts`.
 */
export const AMD_3DNOW_TABLE = String.raw`
`;
