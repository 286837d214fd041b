/**
 * (being written) Opcode table: sse0f3a. Grammar: see `grammar.ts`.
 */
export const SSE_0F3A_TABLE = String.raw`
`;
