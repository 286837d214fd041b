/**
 * (being written) Opcode table: sse0f38. Grammar: see `grammar.ts`.
 */
export const SSE_0F38_TABLE = String.raw`
`;
