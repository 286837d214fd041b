/**
 * Channels: the session's only I/O. Entry point of the `channels/` folder.
 *
 * spec.ts         what a manifest channel line asks for; the six kinds
 * host-channel.ts one channel over a host file, device or FIFO
 * channel-set.ts  all channels of a session, in the program's order
 * errors.ts       typed mount and I/O errors
 * memory-file.ts  a channel's bytes in memory (an embedder's buffers and streams)
 * stream.ts       a blocking sequential stream (a pipe between sessions)
 */
export * from './spec.js';
export * from './errors.js';
export * from './host-channel.js';
export * from './channel-set.js';
export * from './memory-file.js';
export * from './stream.js';
