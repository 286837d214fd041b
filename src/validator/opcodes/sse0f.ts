/**
 * (being written) Opcode table: sse0f. Grammar: see `grammar.ts`.
 */
export const SSE_0F_TABLE = String.raw`
`;
