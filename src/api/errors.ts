/**
 * The embedding API's exceptions: one class per thing a caller can get
 * wrong, each message saying what to change.
 *
 * What a program does once it runs (a fault, a timeout, a non-zero exit)
 * is not an exception: it is the session's outcome (session.ts), as the
 * report of the original ZeroVM 2015 was. These classes are for what stops
 * a session from starting.
 */
import type { ValidationError } from '../validator/validate.js';

/** The base of every error the embedding API throws. */
export class ZeroVMError extends Error {
  override name = 'ZeroVMError';
}

/** The program could not be read (no such file, a directory, no permission). */
export class ProgramReadError extends ZeroVMError {
  override name = 'ProgramReadError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`cannot read the program ${path}: ${reason}`);
  }
}

/** The program is not a ZeroVM nexe (ELF checks: spec/runtime.md, "The program"). */
export class ProgramFormatError extends ZeroVMError {
  override name = 'ProgramFormatError';
  constructor(
    /** The errno the original exited with for this (EIO, ENOEXEC, EFAULT). */
    readonly errno: number,
    detail: string,
  ) {
    super(`not a ZeroVM program: ${detail} (build it with zerovm cc, or check that the file is a nexe)`);
  }
}

/** The validator refused the program: it would not stay inside its sandbox. */
export class ValidationFailedError extends ZeroVMError {
  override name = 'ValidationFailedError';
  constructor(
    readonly errors: readonly ValidationError[],
    /** The engine whose CPU features the program was validated against. */
    readonly engine: string,
  ) {
    const shown = errors.slice(0, 3).map((e) => `0x${e.address.toString(16)}: ${e.message}`);
    const more = errors.length > shown.length ? `; and ${errors.length - shown.length} more` : '';
    super(
      `validation failed for the ${engine} engine (${errors.length} error(s)): ${shown.join('; ')}${more}. ` +
        'Rebuild the program with zerovm cc; `zerovm validate PROGRAM` lists every error',
    );
  }
}

/** The chosen engine cannot run here (no addon built, no libunicorn, not x86-64). */
export class EngineUnavailableError extends ZeroVMError {
  override name = 'EngineUnavailableError';
  constructor(
    readonly engine: string,
    reason: string,
  ) {
    super(`the ${engine} engine cannot run here: ${reason}`);
  }
}

/** An option of Program.load or a session is wrong; `option` names it. */
export class InvalidOptionError extends ZeroVMError {
  override name = 'InvalidOptionError';
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`${option}: ${problem}`);
  }
}

/** A channel could not be opened (its file, its type): the session did not start. */
export class ChannelOpenError extends ZeroVMError {
  override name = 'ChannelOpenError';
  constructor(
    readonly alias: string | undefined,
    /** The errno the original exited with. */
    readonly errno: number,
    detail: string,
  ) {
    super(`${alias === undefined ? 'channels' : `channel ${alias}`} could not be opened: ${detail}`);
  }
}

/**
 * A Node stream given as a channel failed (a read or write error). An
 * output stream's failure is known only after the session, whose outcome
 * (and every other output) is then kept in `outcome`.
 */
export class ChannelStreamError<Outcome = unknown> extends ZeroVMError {
  override name = 'ChannelStreamError';
  constructor(
    readonly alias: string,
    readonly streamError: unknown,
    readonly outcome?: Outcome,
  ) {
    super(`the stream of channel ${alias} failed: ${streamError instanceof Error ? streamError.message : String(streamError)}`);
  }
}

/** Program.fork(): the session ended without the program calling TrapFork, so there is nothing to start requests from. */
export class NoForkError<Outcome = unknown> extends ZeroVMError {
  override name = 'NoForkError';
  constructor(
    /** How the set-up session ended (its report: exit state, user return code). */
    readonly outcome: Outcome,
    exitState: string,
  ) {
    super(`the program did not call TrapFork (zvm_fork) before its session ended ("${exitState}"); a warm start needs a program that forks once its set-up is done`);
  }
}

/** WarmStart.run(): the request cannot start from the snapshot (its channels differ from the set-up session's). */
export class WarmStartMismatchError extends ZeroVMError {
  override name = 'WarmStartMismatchError';
  constructor(detail: string) {
    super(`the request cannot start from the warm start: ${detail} (give it the set-up session's channels: the same aliases, kinds and limits)`);
  }
}
