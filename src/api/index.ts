/**
 * zerovm-ts's embedding API: load and validate a program once, then run
 * sessions from it with channels given as buffers, Node streams or files,
 * and get the report as data. README.md, "Embedding", shows it in use.
 *
 *   Program          a nexe read, checked and validated (cached by content)
 *   ProgramCache     validation verdicts by content hash, policy, features
 *   SessionOptions   channels, arguments, environment, limits, engine
 *   SessionOutcome   report fields, accounting, etags, outputs, report text
 *   WarmStart        a session kept at TrapFork: requests start from it (Program.fork)
 *   errors           typed exceptions for what stops a session starting
 *   deferSessionTeardown / finishSessionTeardown
 *                    a thread that answers first releases ended sandboxes afterwards
 */
export { Program, ProgramCache, defaultProgramCache, type ProgramCacheOptions, type ProgramLoadOptions, type Validator } from './program.js';
export type { ChannelDefinition, ChannelInput, ChannelLimits, ChannelOutput, SessionOptions, SessionOutcome } from './session.js';
export { WarmStart, type SharedWarmStart, type WarmRunOptions } from './warm-start.js';
export { ENGINE_NAMES, resolveEngine, type EngineChoice, type EngineName } from './engine-choice.js';
export {
  ChannelOpenError,
  ChannelStreamError,
  EngineUnavailableError,
  InvalidOptionError,
  NoForkError,
  ProgramFormatError,
  ProgramReadError,
  ValidationFailedError,
  WarmStartMismatchError,
  ZeroVMError,
} from './errors.js';
export type { Engine } from '../runtime/engine.js';
export { deferTeardown as deferSessionTeardown, finishTeardown as finishSessionTeardown } from '../runtime/teardown.js';
export type { EtagEntry } from '../runtime/etag.js';
export { ValidatorState, type AccountingFields, type IoTotals, type ReportFields } from '../runtime/report.js';
export type { ValidationError, ValidationResult } from '../validator/validate.js';
