/**
 * One ZeroVM session: manifest -> program -> validation -> channels ->
 * memory -> run -> report.
 *
 * Pipeline position: CLI (`zerovm MANIFEST`, `zerovm run`) -> here ->
 * manifest.ts, program-image.ts, validator, channels, layout.ts +
 * loader.ts, an Engine, trap-io.ts and jail.ts, report.ts.
 *
 * Source of truth: spec/runtime.md "A session, step by step", as measured
 * on the original ZeroVM 2015. The steps, each failure ending the session
 * with the errno as process exit code and its message as the report's
 * exit state:
 *   1. read the manifest (ManifestError: EFAULT 14 with "MANIFEST n: ...",
 *      ENOENT/EIO/EFBIG for the file itself);
 *   2. the program must open (ENOENT 2, "program open error") and be read;
 *   3. load its ELF (program-image.ts: EIO 5, ENOEXEC 8 or EFAULT 14);
 *   4. validate its text with the deterministic policy and the engine's CPU
 *      features (validator state 1, ENOEXEC 8, "validation failed"); until
 *      this step, or with -s, the validator state is 2;
 *   5. the channels (ChannelSet.open), then the memory (layout.ts,
 *      ENOMEM 12), then the timeout (EFAULT 14);
 *   6. load into a fresh engine session; -F stops here with "ok";
 *   7. run: trap stops are dispatched (Read/Write by trap-io.ts, Jail and
 *      Unjail by jail.ts, the rest here), a fault ends the session with
 *      "Signal N from untrusted code" (exit code 4) or, at a trampoline
 *      slot other than the trap's, "nacl syscall #k received" (EINVAL 22),
 *      the time budget with "session timeout" (4), TrapExit with "ok" (0)
 *      and the program's code.
 * Whatever happens, the channels are closed (data on disk, final
 * truncation) and the engine session disposed before the report is made
 * (or, in a thread that defers it, after the outcome is handed on:
 * teardown.ts).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { validate, type ValidationPolicy, type ValidationResult } from '../validator/validate.js';
import { ChannelSet, ChannelMountError, ChannelIoError, ChannelDeadlineError, compareAliases, exactLimits, programOrder, type ChannelSpec, type HostChannel } from './channels/index.js';
import { Protection, SANDBOX_SIZE, TRAMPOLINE_TRAP, type Engine, type EngineSession, type ReadonlyBytes, type Region, type Stop } from './engine.js';
import { EMPTY_DIGEST, MEMORY_ETAG_ALIAS, memoryEtagEntry, type EtagEntry } from './etag.js';
import { jailBlock, unjailBlock, type JailTarget } from './jail.js';
import { computeLayout, loadingRegions, sharedLoadingRegions, TRAMPOLINE_END, trapViewOverrides, type Layout } from './layout.js';
import { placeUserManifest, type UserManifestPlacement } from './user-manifest.js';
import { knownProgramMemoryImage, loadProgram } from './loader.js';
import { checkNetwork, checkTimeout, ManifestError, readManifest, type Manifest } from './manifest.js';
import { ProtectionMap } from './protection-map.js';
import { ProgramLoadError, readProgramImage, textRegion, TEXT_START, type ProgramImage } from './program-image.js';
import {
  accountingTimes,
  EXIT_STATES,
  FastReportTimer,
  formatFastReport,
  formatReport,
  SIGNAL_EXIT_CODE,
  signalExitState,
  ValidatorState,
  type DaemonState,
  type ReportFields,
  type ReportMode,
} from './report.js';
import { canonicalWords, ZEROVM_BASE } from './canonical-base.js';
import { captureMemory, channelsAtFork, restoreSnapshot, snapshotMemoryImage, type SessionSnapshot } from './snapshot.js';
import { Verbosity, type SessionObserver } from './trace.js';
import { dispatchTrapAt, readTrapArgs, TrapArgsFault, type GuestMemory, type TrapArgs, type TrapHooks } from './trap-io.js';
import { Errno } from './definitions.js';
import { endEngineSession, finishTeardown } from './teardown.js';

/**
 * The policy a session validates its program and every TrapJail block with
 * (spec/validator.md, "The policies"); tests that run programs on an engine
 * directly validate them with it too.
 */
export const SESSION_POLICY: ValidationPolicy = 'deterministic';

/** How a session runs, whatever described it (a manifest file or the embedding API). */
export interface SessionRunOptions {
  /** -F: load, validate, report and stop. */
  readonly loadOnly?: boolean;
  /** -P turns preallocation of writable channels off. */
  readonly preallocate?: boolean;
  /** Standard channels on the inherited descriptors 0-2, never reopened (`zerovm run`; see host-channel.ts). */
  readonly inheritStandardStreams?: boolean;
  /** -t. */
  readonly reportMode?: ReportMode;
  /** The engine that runs the program. */
  readonly engine: Engine;
  /** `-v` / `-T`: told about each stage and each trap (trace.ts). */
  readonly observer?: SessionObserver | null;
  /** `-t 2`: where accounting lines go while the program runs (at most one a second, after a trap). */
  readonly writeFastReport?: (line: string) => void;
}

export interface SessionOptions extends SessionRunOptions {
  /** Path of the system manifest. */
  readonly manifestPath: string;
  /** -s: do not validate (validator state 2). */
  readonly skipValidation?: boolean;
}

/** A program read, loaded as ELF and judged: what sessions start from. */
export interface PreparedProgram {
  readonly bytes: Uint8Array;
  readonly image: ProgramImage;
  /** Valid, or not validated (-s); an invalid program never gets this far. */
  readonly validatorState: ValidatorState;
}

/** Everything a session needs besides its run options, as the manifest (or an embedder) gives it. */
export interface SessionPlan {
  readonly program: PreparedProgram;
  /** Bytes for the whole session, 1 .. 4 GiB. */
  readonly memory: number;
  /** Seconds. */
  readonly timeout: number;
  /** Report the memory etag (`/dev/memory`). */
  readonly memoryEtag: boolean;
  /** In manifest order. */
  readonly channels: readonly ChannelSpec[];
  /** Checks the manifest made after the memory layout (the original's order of errors). */
  readonly afterLayout?: () => void;
  /**
   * TrapFork stops the session and snapshots it (the manifest has a `Job`,
   * or an embedder asked for a warm start): spec/runtime.md "Daemon mode".
   * Otherwise TrapFork returns 0 and the program goes on.
   */
  readonly forkable?: boolean;
  /** A warm request's own user manifest replaces the snapshot's (WarmRequest.ownManifest). */
  readonly ownManifest?: boolean;
}

/** A request started from a snapshot: its channels (matched against the snapshot's) and its time. */
export interface WarmRequest {
  /** In any order; the snapshot's channels must each have one of the same alias, type and limits. */
  readonly channels: readonly ChannelSpec[];
  /** Seconds. */
  readonly timeout: number;
  /** TrapFork in the request snapshots it again (its manifest has a `Job`). */
  readonly forkable?: boolean;
  /**
   * The request's user manifest (its channels' sizes) replaces the
   * snapshot's in memory: the embedding API's and job executors' warm
   * starts (spec/serving.md "Warm starts"). Daemon mode keeps the daemon's,
   * as the original did (spec/runtime.md "Daemon mode").
   */
  readonly ownManifest?: boolean;
}

export interface SessionResult extends ReportFields {
  /** The report text, as printed on stdout (made from the other fields). */
  readonly report: string;
  /** Process exit code (0, or the errno of the first error). */
  readonly exitCode: number;
  /** What ended the session early, when something did (a ChannelMountError, a SessionFailure, ...). */
  readonly cause?: Error;
  /** Code the program passed to TrapExit (0 when it did not). */
  readonly userReturnCode: number;
  /** The program ran (or resumed, in a warm start): every stage before it succeeded. */
  readonly ran: boolean;
  /** The program called TrapFork in a forkable session: where requests start from (daemon state 1). */
  readonly snapshot?: SessionSnapshot;
}

/** A failure that ends the session: errno (process exit code) and exit state text. */
export class SessionFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SessionFailure';
  }
}

const { ENOENT, ENOEXEC, EFAULT, EINVAL } = Errno;
const TIMEOUT_STATE = EXIT_STATES.find((row) => row.id === 'sessionTimeout')!;
const VALIDATION_FAILED = EXIT_STATES.find((row) => row.id === 'validationFailed')!;
/** Trampoline slots: 32 bytes each; slot 0 is the trap, 1..LAST_LIVE_SLOT end the session. */
const SLOT_SIZE = 32;
const LAST_LIVE_SLOT = (TRAMPOLINE_END - TRAMPOLINE_TRAP) / SLOT_SIZE - 2;

/** Thrown by the TrapExit hook to leave the dispatch. */
class ProgramExit {
  constructor(readonly code: number) {}
}

/** Thrown by the TrapFork hook of a forkable session to leave the dispatch, the engine still at the trap. */
class ProgramFork {}

/** What `execute` returns when the program called TrapFork in a forkable session. */
const FORKED = Symbol('forked');

/** How the run begins: at the entry point, or (a warm start) by returning from the trap the snapshot stopped at. */
type FirstRun = { readonly entry: number } | { readonly resume: number };

/**
 * The trap's view of memory (the original's memory map, layout.ts), down
 * to the 4 KiB granule of TrapJail: what a TrapRead may write and a
 * TrapWrite may read.
 *
 * One protection record serves the engine and the trap: this view reads
 * the engine session's own (EngineSession.protections), and keeps only
 * where the original's map said otherwise than the protections it applied
 * (layout.ts: R between the text and the rodata, where the program may
 * write). TrapJail and TrapUnjail change protections through `protect`,
 * which applies them in the engine and ends any such difference in their
 * range, as the original's map then followed them. Before, the session
 * kept a second copy of the protections beside the engine's, and the two
 * were updated one after the other.
 */
class TrapView implements GuestMemory {
  /** Where the trap's view differs from the engine's protections, in address order, not overlapping (never changed in place: protect() replaces it). */
  private overrides: readonly TrapOverride[];

  /** `overrides`: trapViewOverrides of the protections the engine applies and the original's map over them (layout.ts, or a snapshot's). */
  constructor(
    private readonly session: EngineSession,
    overrides: readonly TrapOverride[],
  ) {
    this.overrides = overrides;
  }

  /** Applies `protection` in the engine; the trap's view follows it there. */
  protect(address: number, size: number, protection: Protection): void {
    this.session.protect(address, size, protection);
    const end = address + size;
    this.overrides = this.overrides.flatMap((o) => {
      if (o.end <= address || o.start >= end) return [o];
      const kept = [];
      if (o.start < address) kept.push({ ...o, end: address });
      if (o.end > end) kept.push({ ...o, start: end });
      return kept;
    });
  }

  isReadable(address: number, length: number): boolean {
    return this.every(address, length, Protection.Read);
  }

  isWritable(address: number, length: number): boolean {
    return this.every(address, length, Protection.Write);
  }

  view(address: number, length: number): ReadonlyBytes {
    return this.session.view(address, length);
  }

  writableView(address: number, length: number): Uint8Array {
    return this.session.writableView(address, length);
  }

  /** The trap's view as protections in address order (for a snapshot). */
  ranges(): Region[] {
    return this.combined().ranges();
  }

  /** The readable regions in address order, as at ZeroVM's base (for the memory etag: canonical-base.ts). */
  *readableRegions(): Iterable<ReadonlyBytes> {
    for (const { start, end } of this.combined().spans(Protection.Read)) {
      /* one view per 1 MiB at most, to keep each view small */
      for (let at = start; at < end; at += 0x100000) yield canonicalWords(this.session.view(at, Math.min(0x100000, end - at)), at, this.session.base);
    }
  }

  /** The engine's protections with this view's differences laid over them. */
  private combined(): ProtectionMap {
    const map = new ProtectionMap();
    for (const r of this.session.protections.ranges()) map.set(r.address, r.address + r.size, r.protection);
    for (const o of this.overrides) map.set(o.start, o.end, o.protection);
    return map;
  }

  /** Whether every byte of [address, address + length) has a bit of `bits` (an empty range has, one outside the sandbox has not). */
  private every(address: number, length: number, bits: Protection): boolean {
    if (length <= 0) return true;
    if (address < 0 || address + length > SANDBOX_SIZE) return false;
    const engine = this.session.protections;
    const end = address + length;
    let at = address;
    for (const o of this.overrides) {
      if (o.end <= at) continue;
      if (o.start >= end) break;
      if (o.start > at && !engine.every(at, o.start - at, bits)) return false;
      if ((o.protection & bits) === 0) return false;
      at = Math.min(end, o.end);
    }
    return at >= end || engine.every(at, end - at, bits);
  }
}

/** A range where the trap's view differs from the engine's protections. */
type TrapOverride = { readonly start: number; readonly end: number; readonly protection: Protection };

/** trapViewOverrides of each snapshot, made at its first request: every request starts from the same pages. */
const snapshotTrapOverrides = new WeakMap<SessionSnapshot, readonly TrapOverride[]>();

function snapshotOverrides(snapshot: SessionSnapshot): readonly TrapOverride[] {
  let overrides = snapshotTrapOverrides.get(snapshot);
  if (overrides === undefined) snapshotTrapOverrides.set(snapshot, (overrides = Object.freeze(trapViewOverrides(snapshot.enginePages, snapshot.trapPages).map((o) => Object.freeze(o)))));
  return overrides;
}

function channelSpecs(manifest: Manifest): ChannelSpec[] {
  return manifest.channels.map((channel) => {
    const first = channel.sources[0];
    return {
      uri: channel.sources.length === 1 && first?.kind === 'file' ? first.path : channel.uri,
      alias: channel.alias,
      type: channel.type,
      etag: channel.etag,
      limits: channel.limits,
    };
  });
}

function readManifestFile(path: string): Manifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ManifestError('manifest-open', 'manifest open error', `cannot read the manifest ${path}`);
  }
  return readManifest(text);
}

/**
 * The program's bytes: it must open (ENOENT "program open error"), and the
 * original read as many bytes as `fstat` reports (so a device reads as
 * empty: /dev/zero is 0 bytes, not an endless stream); a directory opens
 * but does not read.
 */
function readProgram(path: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new SessionFailure(ENOENT, 'program open error');
  }
  try {
    const stats = fstatSync(fd);
    if (stats.isDirectory()) throw new SessionFailure(ENOENT, `Cannot open '${path}'. Is a directory`);
    const bytes = new Uint8Array(stats.size);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(fd, bytes, done, bytes.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return bytes.subarray(0, done);
  } catch (error) {
    if (error instanceof SessionFailure) throw error;
    throw new SessionFailure(ENOENT, 'program open error');
  } finally {
    closeSync(fd);
  }
}

/** The program's ELF image; its errors end the session (EIO, ENOEXEC, EFAULT). */
export function loadProgramImage(bytes: Uint8Array): ProgramImage {
  try {
    return readProgramImage(bytes);
  } catch (error) {
    if (error instanceof ProgramLoadError) throw new SessionFailure(error.errno, error.message);
    throw error;
  }
}

/**
 * The report's etags when the channels never opened: every channel that
 * asked for one, with the digest of nothing, in manifest order, or in the
 * program's order when the failure came after the channels were ordered.
 */
function unopenedEtags(channels: SessionProgress['channels'], ordered: boolean): EtagEntry[] {
  const asked = channels.filter((c) => c.etag);
  return (ordered ? programOrder(asked) : asked).map((c) => ({ alias: c.alias, digest: EMPTY_DIGEST }));
}

/** What a session has learnt when a stage fails: it decides the report's etags and validator state. */
interface SessionProgress {
  validatorState: ValidatorState;
  /** The channels the session was asked for (for etags when they never opened). */
  channels: readonly { readonly alias: string; readonly etag: boolean }[];
  memoryEtag: boolean;
}

/** Runs one session from a manifest file; never throws for anything the manifest, program or engine can cause. */
export function runSession(options: SessionOptions): SessionResult {
  const observer = options.observer ?? null;
  return runStages(options, (progress) => {
    const manifest = readManifestFile(options.manifestPath);
    progress.channels = manifest.channels;
    progress.memoryEtag = manifest.memoryEtag;
    observer?.log(Verbosity.Stages, `manifest ${options.manifestPath}: program ${manifest.program}, memory ${manifest.memory} bytes, timeout ${manifest.timeout} s`);
    const bytes = readProgram(manifest.program);
    const image = loadProgramImage(bytes);
    if (!options.skipValidation) {
      const verdict = validateProgram(bytes, image, options.engine);
      observer?.log(Verbosity.Stages, `validation: ${verdict.valid ? 'valid' : `invalid, ${verdict.errors.length} error(s)`}`);
      progress.validatorState = verdict.valid ? ValidatorState.Valid : ValidatorState.Invalid;
      if (!verdict.valid) throw new SessionFailure(VALIDATION_FAILED.exitCode ?? ENOEXEC, VALIDATION_FAILED.wording);
    }
    checkNetwork(manifest);
    return {
      program: { bytes, image, validatorState: progress.validatorState },
      memory: manifest.memory,
      timeout: manifest.timeout,
      memoryEtag: manifest.memoryEtag,
      channels: channelSpecs(manifest),
      afterLayout: () => checkTimeout(manifest),
      forkable: manifest.job !== undefined,
    };
  });
}

/** Validates a program's text as a session does: the session policy, the engine's CPU features. */
export function validateProgram(bytes: Uint8Array, image: ProgramImage, engine: Pick<Engine, 'features'>): ValidationResult {
  return validate(textRegion(bytes, image), {
    base: TEXT_START,
    policy: SESSION_POLICY,
    features: engine.features,
  });
}

/**
 * Runs one session from a plan (a program already read and judged, the
 * channels as specs, possibly in memory): the embedding API's way in.
 * Never throws for anything the plan, program or engine can cause.
 */
export function runPlannedSession(plan: SessionPlan, options: SessionRunOptions): SessionResult {
  return runStages(options, (progress) => {
    progress.validatorState = plan.program.validatorState;
    progress.channels = plan.channels;
    progress.memoryEtag = plan.memoryEtag;
    return plan;
  });
}

/**
 * A warm request's own user manifest, where the snapshot's is (the same
 * aliases: the same place); undefined when it is the snapshot's byte for
 * byte (the usual case: only random channels' sizes can differ), so that
 * nothing is written (the Unicorn engine keeps a request's state for the
 * next only when the host wrote no memory before it ran).
 */
function requestManifest(layout: Layout, channels: readonly HostChannel[]): UserManifestPlacement | undefined {
  const placed = placeUserManifest(channels, { heapPtr: layout.heapPtr, heapSize: layout.heapSize });
  if (placed.address !== layout.userManifest.address || placed.bytes.length !== layout.userManifest.bytes.length) {
    throw new SessionFailure(EFAULT, 'internal error: a request\'s user manifest does not fit where the snapshot\'s is');
  }
  return Buffer.compare(placed.bytes, layout.userManifest.bytes) === 0 ? undefined : placed;
}

/**
 * Starts a request from a snapshot (spec/runtime.md "Daemon mode"): the
 * request's channels replace the snapshot's (same aliases, types and
 * limits; sequential positions carried over), a fresh engine session gets
 * the snapshot's memory and registers, and TrapFork returns 0 in it.
 * Never throws for anything the request or program can cause; `ran` is
 * false when the request failed before the program resumed.
 */
export function runWarmSession(snapshot: SessionSnapshot, request: WarmRequest, options: SessionRunOptions): SessionResult {
  return runStages(
    options,
    (progress) => {
      progress.validatorState = snapshot.program.validatorState;
      progress.channels = request.channels;
      progress.memoryEtag = snapshot.memoryEtag;
      if (options.engine.name !== snapshot.engine) {
        throw new SessionFailure(EFAULT, `the snapshot was taken on the ${snapshot.engine} engine; start its requests on that engine`);
      }
      return {
        program: snapshot.program,
        memory: 0,
        timeout: request.timeout,
        memoryEtag: snapshot.memoryEtag,
        channels: matchRequestChannels(snapshot, request.channels),
        forkable: request.forkable === true,
        ownManifest: request.ownManifest === true,
      };
    },
    snapshot,
  );
}

/**
 * A daemon's request from its manifest text (spec/runtime.md "Daemon
 * mode"): the whole manifest must be valid (Version, Program, Memory are
 * read and checked, then ignored: the snapshot's are kept), its Timeout
 * is the request's, a Job makes its TrapFork fork again. Throws
 * ManifestError.
 */
export function warmRequestFromManifest(text: string): WarmRequest {
  const manifest = readManifest(text);
  checkNetwork(manifest);
  checkTimeout(manifest);
  return { channels: channelSpecs(manifest), timeout: manifest.timeout, forkable: manifest.job !== undefined };
}

/** The Job of a manifest text, when it has one (the socket a forked request listens on). */
export function manifestJob(text: string): string | undefined {
  return readManifest(text).job;
}

/**
 * The request's channels for the snapshot's, in the program's order: each
 * of the snapshot's channels needs one with the same alias, type and four
 * limits (EFAULT "difference in <alias>", as the original); a request's
 * channels beyond the snapshot's are not opened.
 */
function matchRequestChannels(snapshot: SessionSnapshot, given: readonly ChannelSpec[]): ChannelSpec[] {
  const ordered = programOrder(given);
  return snapshot.channels.map((old, i) => {
    const spec = ordered[i];
    if (spec === undefined) throw new SessionFailure(EFAULT, `the request has no channel ${old.alias}`);
    if (compareAliases(spec.alias, old.alias) !== 0) throw new SessionFailure(EFAULT, `difference in ${old.alias}`);
    const limits = exactLimits(spec.limits);
    const same = spec.type === old.type && limits.gets === old.limits.gets && limits.getSize === old.limits.getSize && limits.puts === old.limits.puts && limits.putSize === old.limits.putSize;
    if (!same) throw new SessionFailure(EFAULT, `difference in ${old.alias}`);
    return spec;
  });
}

/**
 * The stages after the plan: channels, memory, engine, run, report.
 * `plan` may throw the session's failures (manifest, program, validation),
 * which end the session as the later stages' do.
 */
function runStages(options: SessionRunOptions, makePlan: (progress: SessionProgress) => SessionPlan, warm?: SessionSnapshot): SessionResult {
  /* a session this thread deferred releases its reservation for this one, and is not counted in its times (teardown.ts) */
  finishTeardown();
  const progress: SessionProgress = { validatorState: ValidatorState.NotValidated, channels: [], memoryEtag: false };
  let userReturnCode = 0;
  let daemonState: DaemonState = 0;
  let snapshot: SessionSnapshot | undefined;
  let ran = false;
  /* a request's CPU times are its own (the original's request was a fresh process) */
  const wallStart = warm === undefined ? 0 : performance.now();
  const cpuStart = warm === undefined ? undefined : process.cpuUsage();
  let exitState = 'ok';
  let exitCode = 0;
  let channels: ChannelSet | undefined;
  let channelsOrdered = false;
  let session: EngineSession | undefined;
  let memory: TrapView | undefined;
  let memoryEtag: EtagEntry | undefined;
  let cause: Error | undefined;
  const observer = options.observer ?? null;

  try {
    const plan = makePlan(progress);
    const { bytes, image } = plan.program;
    try {
      channels = ChannelSet.open(plan.channels, {
        preallocate: options.preallocate !== false,
        inheritStandardStreams: options.inheritStandardStreams === true,
      });
    } catch (error) {
      if (error instanceof ChannelMountError) channelsOrdered = error.afterOrdering;
      throw error;
    }
    if (warm !== undefined) channels.channels.forEach((channel, i) => channel.continueFrom(warm.channels[i]!));
    for (const channel of channels.channels) {
      const l = channel.limits;
      observer?.log(Verbosity.Details, `channel ${channel.alias} = ${channel.uri}, type ${channel.type}, limits ${l.gets} ${l.getSize} ${l.puts} ${l.putSize}`);
    }
    const layout = warm?.layout ?? computeLayout(image, plan.memory, channels.channels);
    if (warm === undefined) plan.afterLayout?.();

    const unavailable = options.engine.unavailableReason();
    if (unavailable !== null) throw new SessionFailure(EFAULT, unavailable);
    /* the image it will map first: a native thread keeps a sandbox that holds it (spec/runtime.md "Reservation") */
    const willMap = warm !== undefined ? snapshotMemoryImage(warm, options.engine) : knownProgramMemoryImage(options.engine, bytes, image);
    session = options.engine.createSession(warm === undefined ? loadingRegions(layout) : sharedLoadingRegions(layout), willMap === undefined ? undefined : { willMap });
    observer?.log(Verbosity.Stages, `engine ${options.engine.name}, sandbox base (r15) 0x${session.base.toString(16)}`);
    for (const region of layout.regions) {
      observer?.log(Verbosity.Details, `region 0x${region.address.toString(16).padStart(8, '0')} +0x${region.size.toString(16)} protection ${region.protection}`);
    }
    if (warm === undefined) {
      loadProgram(session, bytes, image, layout, options.engine);
      memory = new TrapView(session, trapViewOverrides(layout.regions, layout.trapView));
    } else {
      restoreSnapshot(session, warm, options.engine, plan.ownManifest === true ? requestManifest(warm.layout, channels.channels) : undefined);
      memory = new TrapView(session, snapshotOverrides(warm));
    }
    if (!options.loadOnly) {
      const write = options.writeFastReport;
      const fastReports = options.reportMode === 2 && write !== undefined ? fastReporter(channels, write) : null;
      ran = true;
      const first: FirstRun = warm === undefined ? { entry: image.entry } : { resume: 0 };
      const end = execute(session, memory, channels, layout, first, plan.timeout, observer, fastReports, options.engine, plan.forkable === true);
      if (end === FORKED) {
        daemonState = 1;
        snapshot = {
          engine: options.engine.name,
          program: plan.program,
          layout,
          memoryEtag: progress.memoryEtag,
          enginePages: session.protections.ranges(),
          trapPages: memory.ranges(),
          data: captureMemory(session, session.protections.ranges(), warm?.data),
          context: session.saveTrapContext(),
          channels: channelsAtFork(channels.channels),
          etags: [...(warm?.etags ?? []), ...channels.etags()],
        };
      } else {
        userReturnCode = end;
      }
    }
  } catch (error) {
    if (error instanceof Error) cause = error;
    if (error instanceof SessionFailure || error instanceof ManifestError) {
      exitCode = error.exitCode;
      exitState = error.message;
    } else if (error instanceof ChannelDeadlineError) {
      /* blocked on a pipe past the deadline: the same end as a program that ran out of time */
      exitCode = TIMEOUT_STATE.exitCode ?? SIGNAL_EXIT_CODE;
      exitState = TIMEOUT_STATE.wording;
    } else if (error instanceof ChannelMountError || error instanceof ChannelIoError) {
      exitCode = error.errno;
      exitState = error.message;
    } else if (error instanceof RunEnd) {
      exitCode = error.exitCode;
      exitState = error.state;
    } else {
      exitCode = EFAULT;
      exitState = error instanceof Error ? error.message : String(error);
    }
  } finally {
    try {
      if (progress.memoryEtag) {
        const pages = memory;
        memoryEtag = pages === undefined ? { alias: MEMORY_ETAG_ALIAS, digest: EMPTY_DIGEST } : memoryEtagEntry(() => pages.readableRegions());
      }
    } finally {
      if (session !== undefined) endEngineSession(session);
      channels?.closeAll();
    }
  }
  observer?.log(Verbosity.Stages, `session ended: ${exitState} (exit code ${exitCode}, user return code ${userReturnCode})`);

  const ownEtags = channels !== undefined ? channels.etags() : unopenedEtags(progress.channels, channelsOrdered);
  /* a request lists the etags its daemon had at the fork first (the original's digests went on accumulating) */
  const channelEtags = warm === undefined ? ownEtags : [...warm.etags, ...ownEtags];
  const totals = channels?.ioTotals() ?? {
    local: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 },
    network: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 },
  };
  const fields: ReportFields = {
    validatorState: progress.validatorState,
    daemonState,
    userReturnCode,
    etags: memoryEtag === undefined ? channelEtags : [...channelEtags, memoryEtag],
    accounting: { ...accountingTimes(cpuStart === undefined ? undefined : requestCpu(cpuStart, wallStart)), local: totals.local, network: totals.network },
    exitState,
  };
  /* the fields, then the rest, without spreads (this runs for every request) */
  const result: { -readonly [K in keyof SessionResult]: SessionResult[K] } = {
    validatorState: fields.validatorState,
    daemonState,
    userReturnCode,
    etags: fields.etags,
    accounting: fields.accounting,
    exitState,
    report: formatReport(fields, options.reportMode ?? 0),
    exitCode,
    ran,
  };
  if (cause !== undefined) result.cause = cause;
  if (snapshot !== undefined) result.snapshot = snapshot;
  return result;
}

/** CPUs this process can run on at once (all online ones: an affinity mask only lowers it); counted at the first warm request, not at every process start. */
let onlineCpus = 0;

/** No CPU time. */
const NO_CPU: NodeJS.CpuUsage = Object.freeze({ user: 0, system: 0 });

/**
 * The process's CPU time since `start` (process.cpuUsage), read at
 * `wallStart` (performance.now(), taken before it). The accounting counts
 * whole 1/100 s ticks, and the process cannot have used more than the wall
 * time times its CPUs: a request shorter than 10 ms / CPUs (most warm
 * requests on a small host) reports 0.00 0.00 whatever the reading, so
 * the second getrusage(), a few microseconds on a busy thread, is not made.
 */
function requestCpu(start: NodeJS.CpuUsage, wallStart: number): NodeJS.CpuUsage {
  onlineCpus ||= Math.max(1, cpus().length, availableParallelism());
  if ((performance.now() - wallStart) * onlineCpus < 10) return NO_CPU;
  return process.cpuUsage(start);
}

/**
 * `-t 2`: after a trap, an accounting line when a second has passed since
 * the last one (the original's FastReport, called from its trap handler).
 * CPU time is the process's user + system time, as the original's clock().
 */
function fastReporter(channels: ChannelSet, write: (line: string) => void): () => void {
  const timer = new FastReportTimer();
  return () => {
    if (!timer.due(Math.round((performance.timeOrigin + performance.now()) * 1000))) return;
    const usage = process.cpuUsage();
    const totals = channels.ioTotals();
    write(formatFastReport((usage.user + usage.system) / 1e6, totals.local, totals.network));
  };
}

/** The argument block for a trace line, or undefined when it cannot be read (the dispatch then faults). */
function tracedArgs(memory: GuestMemory, address: number): TrapArgs | undefined {
  try {
    return readTrapArgs(memory, address);
  } catch {
    return undefined;
  }
}

/** The run ended without TrapExit: a fault, a timeout or a trusted-side crash. */
class RunEnd extends Error {
  constructor(
    readonly exitCode: number,
    readonly state: string,
  ) {
    super(state);
  }
}

/**
 * A fault's end of the session: a SIGSEGV at a trampoline slot other than
 * the trap's (slots 1..2046 hold hlt) is the original's "nacl syscall #k
 * received" (EINVAL 22): its slots called NaCl's system call table, which
 * ZeroVM had emptied. Any other fault is the signal.
 */
function faultEnd(signal: number, pc: number): RunEnd {
  const slot = (pc - TRAMPOLINE_TRAP) / SLOT_SIZE;
  if (signal === 11 && Number.isInteger(slot) && slot >= 1 && slot <= LAST_LIVE_SLOT) {
    return new RunEnd(EINVAL, `nacl syscall #${slot} received`);
  }
  /* the host address as at ZeroVM's base, wherever the sandbox is (spec/runtime.md "The sandbox base") */
  return new RunEnd(SIGNAL_EXIT_CODE, signalExitState(signal, true, ZEROVM_BASE + BigInt(pc)));
}

/** Runs the program until TrapExit (returns its code) or, when forkable, TrapFork (returns FORKED); throws RunEnd. */
function execute(
  session: EngineSession,
  memory: TrapView,
  channels: ChannelSet,
  layout: Layout,
  first: FirstRun,
  timeoutSeconds: number,
  observer: SessionObserver | null,
  fastReports: (() => void) | null,
  engine: Engine,
  forkable: boolean,
): number | typeof FORKED {
  const deadline = Date.now() + timeoutSeconds * 1000;
  /* a channel that waits (a pipe to another session) waits no longer than the session may run */
  channels.setDeadline(deadline);
  const hooks = new SessionHooks(session, memory, layout, engine, forkable);
  const context = { channels: channels.channels, memory, hooks };
  let stop: Stop;
  if ('entry' in first) {
    /* the original refused to translate sandbox address 0, the entry point included */
    if (first.entry === 0) throw new RunEnd(EFAULT, 'the entry point is at address 0');
    stop = session.start(first.entry, Math.max(0, deadline - Date.now()));
  } else {
    stop = session.resume(first.resume, Math.max(0, deadline - Date.now()));
  }
  for (;;) {
    switch (stop.kind) {
      case 'fault':
        throw faultEnd(stop.signal, stop.pc);
      case 'timeout':
        throw new RunEnd(TIMEOUT_STATE.exitCode ?? SIGNAL_EXIT_CODE, TIMEOUT_STATE.wording);
      case 'trap': {
        /* the original refused a null argument pointer before reading it */
        if (stop.args === 0) throw new RunEnd(EFAULT, 'the trap\'s argument block is at address 0');
        let result: number;
        /* read a second time only for the trace: the hot path stays as it is */
        const traced = observer?.wantsTraps === true ? tracedArgs(memory, stop.args) : undefined;
        try {
          result = dispatchTrapAt(context, stop.args);
        } catch (error) {
          if (error instanceof ProgramExit) {
            if (traced !== undefined) observer?.trap(traced, undefined);
            return error.code;
          }
          if (error instanceof ProgramFork) {
            if (traced !== undefined) observer?.trap(traced, undefined);
            return FORKED;
          }
          if (error instanceof TrapArgsFault) {
            /* the original read the block unchecked and crashed in trusted code */
            throw new RunEnd(SIGNAL_EXIT_CODE, signalExitState(11, false, ZEROVM_BASE + BigInt(error.address)));
          }
          throw error;
        }
        if (traced !== undefined) observer?.trap(traced, result);
        fastReports?.();
        if (Date.now() >= deadline) throw new RunEnd(TIMEOUT_STATE.exitCode ?? SIGNAL_EXIT_CODE, TIMEOUT_STATE.wording);
        stop = session.resume(result, Math.max(0, deadline - Date.now()));
        break;
      }
    }
  }
}

/**
 * TrapJail / TrapUnjail (jail.ts) / TrapExit / TrapFork, and the jail's
 * view of the session: one object with methods rather than closures made
 * for every session.
 */
class SessionHooks implements TrapHooks, JailTarget {
  readonly range: JailTarget['range'];
  readonly policy = SESSION_POLICY;
  readonly features?: JailTarget['features'];

  constructor(
    private readonly session: EngineSession,
    private readonly memory: TrapView,
    layout: Layout,
    engine: Engine,
    private readonly forkable: boolean,
  ) {
    this.range = layout.jailable;
    if (engine.features !== undefined) this.features = engine.features;
  }

  view(address: number, length: number): ReadonlyBytes {
    return this.session.view(address, length);
  }

  protect(address: number, size: number, protection: Protection): void {
    this.memory.protect(address, size, protection);
  }

  jail(buffer: number, size: number): number {
    return jailBlock(this, buffer, size);
  }

  unjail(buffer: number, size: number): number {
    return unjailBlock(this, buffer, size);
  }

  exit(code: number): never {
    throw new ProgramExit(code);
  }

  fork(): number {
    /* with a Job the session ends here as a daemon's first session (the snapshot is taken by runStages) */
    if (this.forkable) throw new ProgramFork();
    /* without a Job socket, the original's TrapFork returned 0 and the program went on */
    return 0;
  }
}
