/**
 * One ZeroVM session: manifest -> program -> validation -> channels ->
 * memory -> run -> report.
 *
 * Pipeline position: CLI (`zerovm MANIFEST`, `zerovm run`) -> here ->
 * manifest.ts, elf/nexe.ts, validator, channels, layout.ts + loader.ts, an
 * Engine, trap-io.ts, report.ts.
 *
 * Source of truth: the original's zvm_main.c (order of steps and exit
 * codes), trap.c (TrapExit, TrapJail/TrapUnjail, TrapFork), userspace.c;
 * shared/spec-notes/zerovm-abi.md §4, §7. The steps, each failure ending the
 * session with the errno as process exit code and its message as the
 * report's exit state:
 *   1. read the manifest (ManifestError: EFAULT 14 with "MANIFEST n: ...",
 *      ENOENT/EIO/EFBIG for the file itself);
 *   2. the program must exist (ENOENT 2, "program open error");
 *   3. load its ELF (ENOEXEC 8, the reason);
 *   4. validate its text with the deterministic policy and the engine's CPU
 *      features (validator state 1, ENOEXEC 8, "validation failed"); -s
 *      skips it (validator state 2);
 *   5. the remaining manifest checks (checkManifest), the channels
 *      (ChannelSet.open), the memory layout (ENOMEM 12);
 *   6. load into a fresh engine session; -F stops here with "ok";
 *   7. run: trap stops are dispatched (Read/Write by trap-io.ts, the rest
 *      here), a fault ends the session with "Signal N from untrusted code"
 *      (exit code 4), the time budget with "session timeout" (4), TrapExit
 *      with "ok" (0) and the program's code.
 * Whatever happens, the channels are closed (data on disk, final
 * truncation) and the engine session disposed before the report is made.
 */
import { readFileSync, statSync } from 'node:fs';
import { readNexe, textBytes, NexeFormatError, type NexeImage } from '../elf/nexe.js';
import { validate } from '../validator/validate.js';
import { ChannelSet, ChannelMountError, ChannelIoError, type ChannelSpec } from './channels/index.js';
import { Protection, SANDBOX_SIZE, type Engine, type EngineSession, type Stop } from './engine.js';
import { memoryEtagEntry, type EtagEntry } from './etag.js';
import { computeLayout, loadingRegions, PAGE_64K, roundUp64K, type Layout } from './layout.js';
import { loadProgram, serializeUserManifest, userManifestSize } from './loader.js';
import { checkManifest, ManifestError, readManifest, type Manifest } from './manifest.js';
import {
  accountingTimes,
  EXIT_STATES,
  FastReportTimer,
  formatFastReport,
  formatReport,
  SIGNAL_EXIT_CODE,
  signalExitState,
  ValidatorState,
  type ReportMode,
} from './report.js';
import { Verbosity, type SessionObserver } from './trace.js';
import { dispatchTrapAt, Errno, readTrapArgs, TrapArgsFault, type GuestMemory, type TrapArgs, type TrapHooks } from './trap-io.js';

export interface SessionOptions {
  /** Path of the system manifest. */
  readonly manifestPath: string;
  /** -s: do not validate (validator state 2). */
  readonly skipValidation?: boolean;
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

export interface SessionResult {
  /** The report text, as printed on stdout. */
  readonly report: string;
  /** Process exit code (0, or the errno of the first error). */
  readonly exitCode: number;
  /** Code the program passed to TrapExit (0 when it did not). */
  readonly userReturnCode: number;
  readonly exitState: string;
  readonly validatorState: ValidatorState;
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

const ENOENT = 2;
const ENOEXEC = 8;
const EFAULT = 14;
const PAGE_COUNT = SANDBOX_SIZE / PAGE_64K;
const TIMEOUT_STATE = EXIT_STATES.find((row) => row.id === 'sessionTimeout')!;
const VALIDATION_FAILED = EXIT_STATES.find((row) => row.id === 'validationFailed')!;

/** Thrown by the TrapExit hook to leave the dispatch. */
class ProgramExit {
  constructor(readonly code: number) {}
}

/** The protection of every 64 KiB page, as the program sees it (for the trap's buffer checks). */
class PageMap implements GuestMemory {
  private readonly pages = new Uint8Array(PAGE_COUNT);

  constructor(
    private readonly session: EngineSession,
    layout: Layout,
  ) {
    for (const r of layout.regions) this.set(r.address, r.size, r.protection);
  }

  set(address: number, size: number, protection: Protection): void {
    this.pages.fill(protection, address / PAGE_64K, (address + size) / PAGE_64K);
  }

  private all(address: number, length: number, bit: Protection): boolean {
    if (length <= 0) return true;
    if (address < 0 || address + length > SANDBOX_SIZE) return false;
    const last = Math.floor((address + length - 1) / PAGE_64K);
    for (let page = Math.floor(address / PAGE_64K); page <= last; page++) {
      if ((this.pages[page]! & bit) === 0) return false;
    }
    return true;
  }

  isReadable(address: number, length: number): boolean {
    return this.all(address, length, Protection.Read);
  }

  isWritable(address: number, length: number): boolean {
    return this.all(address, length, Protection.Write);
  }

  view(address: number, length: number): Uint8Array {
    return this.session.view(address, length);
  }

  /** Views of the readable regions in address order (for the memory etag). */
  *readableRegions(): Iterable<Uint8Array> {
    let page = 0;
    while (page < PAGE_COUNT) {
      if ((this.pages[page]! & Protection.Read) === 0) {
        page++;
        continue;
      }
      const first = page;
      while (page < PAGE_COUNT && (this.pages[page]! & Protection.Read) !== 0) page++;
      /* one view per 1 MiB at most, to keep each view small */
      for (let at = first * PAGE_64K; at < page * PAGE_64K; at += 0x100000) {
        yield this.session.view(at, Math.min(0x100000, page * PAGE_64K - at));
      }
    }
  }
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

function readProgram(path: string): Uint8Array {
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    return readFileSync(path);
  } catch {
    throw new SessionFailure(ENOENT, 'program open error');
  }
}

/** Runs one session; never throws for anything the manifest, program or engine can cause. */
export function runSession(options: SessionOptions): SessionResult {
  let validatorState: ValidatorState = options.skipValidation ? ValidatorState.NotValidated : ValidatorState.Valid;
  let userReturnCode = 0;
  let exitState = 'ok';
  let exitCode = 0;
  let channels: ChannelSet | undefined;
  let session: EngineSession | undefined;
  let memory: PageMap | undefined;
  let manifest: Manifest | undefined;
  const etags: EtagEntry[] = [];
  const observer = options.observer ?? null;

  try {
    manifest = readManifestFile(options.manifestPath);
    observer?.log(Verbosity.Stages, `manifest ${options.manifestPath}: program ${manifest.program}, memory ${manifest.memory} bytes, timeout ${manifest.timeout} s`);
    const bytes = readProgram(manifest.program);
    let image: NexeImage;
    try {
      image = readNexe(bytes);
    } catch (error) {
      if (error instanceof NexeFormatError) throw new SessionFailure(ENOEXEC, error.message);
      throw error;
    }
    if (!options.skipValidation) {
      const verdict = validate(textBytes(bytes, image), {
        base: image.text.vaddr,
        policy: 'deterministic',
        padByte: 0xf4,
        features: options.engine.features,
      });
      observer?.log(Verbosity.Stages, `validation: ${verdict.valid ? 'valid' : `invalid, ${verdict.errors.length} error(s)`}`);
      if (!verdict.valid) {
        validatorState = ValidatorState.Invalid;
        throw new SessionFailure(VALIDATION_FAILED.exitCode ?? ENOEXEC, VALIDATION_FAILED.wording);
      }
    }
    checkManifest(manifest);
    channels = ChannelSet.open(channelSpecs(manifest), {
      preallocate: options.preallocate !== false,
      inheritStandardStreams: options.inheritStandardStreams === true,
    });
    for (const channel of manifest.channels) {
      const l = channel.limits;
      observer?.log(Verbosity.Details, `channel ${channel.alias} = ${channel.uri}, type ${channel.type}, limits ${l.gets} ${l.getSize} ${l.puts} ${l.putSize}`);
    }
    const layout = computeLayout(image, manifest.memory, userManifestSize(channels.channels));
    const userManifest = serializeUserManifest(channels.channels, {
      heapPtr: layout.heapStart,
      heapSize: layout.heapSize,
      stackSize: layout.stackSize,
    });

    const unavailable = options.engine.unavailableReason();
    if (unavailable !== null) throw new SessionFailure(EFAULT, unavailable);
    session = options.engine.createSession(loadingRegions(layout));
    observer?.log(Verbosity.Stages, `engine ${options.engine.name}, sandbox base (r15) 0x${session.base.toString(16)}`);
    for (const region of layout.regions) {
      observer?.log(Verbosity.Details, `region 0x${region.address.toString(16).padStart(8, '0')} +0x${region.size.toString(16)} protection ${region.protection}`);
    }
    loadProgram(session, bytes, image, layout, userManifest);
    memory = new PageMap(session, layout);
    if (!options.loadOnly) {
      const write = options.writeFastReport;
      const fastReports = options.reportMode === 2 && write !== undefined ? fastReporter(channels, write) : null;
      userReturnCode = execute(session, memory, channels, layout, image.entry, manifest.timeout, observer, fastReports, options.engine);
    }
  } catch (error) {
    if (error instanceof SessionFailure || error instanceof ManifestError) {
      exitCode = error.exitCode;
      exitState = error.message;
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
      if (manifest?.memoryEtag === true && memory !== undefined) {
        const pages = memory;
        etags.push(memoryEtagEntry(() => pages.readableRegions()));
      }
    } finally {
      session?.dispose();
      channels?.closeAll();
    }
  }
  observer?.log(Verbosity.Stages, `session ended: ${exitState} (exit code ${exitCode}, user return code ${userReturnCode})`);

  const channelEtags = channels?.etags() ?? [];
  const totals = channels?.ioTotals() ?? {
    local: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 },
    network: { gets: 0, getBytes: 0, puts: 0, putBytes: 0 },
  };
  const report = formatReport(
    {
      validatorState,
      daemonState: 0,
      userReturnCode,
      etags: [...channelEtags, ...etags],
      accounting: { ...accountingTimes(), local: totals.local, network: totals.network },
      exitState,
    },
    options.reportMode ?? 0,
  );
  return { report, exitCode, userReturnCode, exitState, validatorState };
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

/** Runs the program until TrapExit; returns its code or throws RunEnd. */
function execute(
  session: EngineSession,
  memory: PageMap,
  channels: ChannelSet,
  layout: Layout,
  entry: number,
  timeoutSeconds: number,
  observer: SessionObserver | null,
  fastReports: (() => void) | null,
  engine: Engine,
): number {
  const deadline = Date.now() + timeoutSeconds * 1000;
  const budget = (): number => Math.max(0, deadline - Date.now());
  const hooks = sessionHooks(session, memory, layout, engine);
  const context = { channels: channels.channels, memory, hooks };
  let stop: Stop = session.start(entry, budget());
  for (;;) {
    switch (stop.kind) {
      case 'fault':
        throw new RunEnd(SIGNAL_EXIT_CODE, signalExitState(stop.signal, true, session.base + BigInt(stop.pc)));
      case 'timeout':
        throw new RunEnd(TIMEOUT_STATE.exitCode ?? SIGNAL_EXIT_CODE, TIMEOUT_STATE.wording);
      case 'trap': {
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
          if (error instanceof TrapArgsFault) {
            /* the original read the block unchecked and crashed in trusted code */
            throw new RunEnd(SIGNAL_EXIT_CODE, signalExitState(11, false, session.base + BigInt(error.address)));
          }
          throw error;
        }
        if (traced !== undefined) observer?.trap(traced, result);
        fastReports?.();
        if (Date.now() >= deadline) throw new RunEnd(TIMEOUT_STATE.exitCode ?? SIGNAL_EXIT_CODE, TIMEOUT_STATE.wording);
        stop = session.resume(result, budget());
        break;
      }
    }
  }
}

/**
 * TrapJail / TrapUnjail / TrapExit / TrapFork. Jail and unjail check, in
 * the original's order: size > 0, the address inside the heap, 64 KiB
 * aligned (each -EINVAL); here the block's end must be inside the heap too
 * (-EINVAL), and the whole 64 KiB-rounded block is validated and protected
 * (the engine protects whole pages; the original validated `size` bytes and
 * let mprotect round to 4 KiB). Jail: validation failure -EPERM.
 */
function sessionHooks(session: EngineSession, memory: PageMap, layout: Layout, engine: Engine): TrapHooks {
  const heapEnd = layout.heapStart + layout.heapSize;
  const check = (buffer: number, size: number): number | null => {
    if (size <= 0) return -Errno.EINVAL;
    if (buffer < layout.heapStart || buffer >= heapEnd) return -Errno.EINVAL;
    if (buffer % PAGE_64K !== 0) return -Errno.EINVAL;
    if (buffer + roundUp64K(size) > heapEnd) return -Errno.EINVAL;
    return null;
  };
  return {
    jail(buffer, size) {
      const refused = check(buffer, size);
      if (refused !== null) return refused;
      const span = roundUp64K(size);
      if (!memory.isReadable(buffer, span)) return -Errno.EACCES;
      const verdict = validate(memory.view(buffer, span), { base: buffer, policy: 'deterministic', features: engine.features });
      if (!verdict.valid) return -Errno.EPERM;
      session.protect(buffer, span, Protection.Read | Protection.Execute);
      memory.set(buffer, span, Protection.Read | Protection.Execute);
      return 0;
    },
    unjail(buffer, size) {
      const refused = check(buffer, size);
      if (refused !== null) return refused;
      const span = roundUp64K(size);
      session.protect(buffer, span, Protection.Read | Protection.Write);
      memory.set(buffer, span, Protection.Read | Protection.Write);
      return 0;
    },
    exit(code): never {
      throw new ProgramExit(code);
    },
    fork() {
      /* daemon mode is not implemented: Daemon() failed, and its -1 is the result */
      return -1;
    },
  };
}
