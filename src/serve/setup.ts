/**
 * What `zerovm serve` and `zerovm job` share: options parsed into a store,
 * system images, an executor and a JobService (spec/serving.md, "Running
 * the server").
 */
import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isEngineName, type EngineName } from '../api/engine-choice.js';
import { createExecutor } from '../jobs/executors.js';
import type { JobExecutor } from '../jobs/executor.js';
import { TarImage } from '../jobs/images.js';
import { JobService } from './service.js';
import { ObjectStore } from './store.js';

export const DEFAULT_STORE = './zerovm-store';
export const DEFAULT_MAX_NODES = 100;
export const DEFAULT_MAX_JOB_BYTES = 64 * 1024;
export const DEFAULT_MAX_BODY = 256 * 1024 * 1024;
export const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

export class SetupError extends Error {
  override name = 'SetupError';
}

export interface SetupOptions {
  readonly store?: string;
  readonly workers?: number;
  readonly engine?: string;
  /** NAME=PATH pairs. */
  readonly sysimages?: readonly string[];
  readonly maxNodes?: number;
  /** Bytes per writable device. */
  readonly maxOutput?: number;
  readonly memory?: number;
  readonly timeout?: number;
}

export interface Setup {
  readonly store: ObjectStore;
  readonly executor: JobExecutor;
  readonly service: JobService;
  readonly sysimages: ReadonlyMap<string, TarImage>;
}

/** `NAME=APP.zapp` -> name and path; names are device names, so letters, digits and _ only. */
export function parseSysimage(text: string): { name: string; path: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new SetupError(`--sysimage '${text}': expected NAME=IMAGE.tar (or .zapp), e.g. lua=lua.zapp`);
  const name = text.slice(0, eq);
  const path = resolve(text.slice(eq + 1));
  if (!/^[A-Za-z0-9_]{1,64}$/.test(name)) throw new SetupError(`--sysimage '${text}': the name '${name}' must be letters, digits or _`);
  if (['stdin', 'stdout', 'stderr', 'input', 'output', 'image', 'script', 'debug'].includes(name)) throw new SetupError(`--sysimage '${text}': '${name}' is a standard device name; choose another`);
  if (!existsSync(path) || !statSync(path).isFile()) throw new SetupError(`--sysimage '${text}': no such file ${basename(path)}`);
  return { name, path };
}

export function setUp(options: SetupOptions): Setup {
  const engine = options.engine ?? 'auto';
  if (!isEngineName(engine)) throw new SetupError(`--engine '${engine}': use native, unicorn or auto`);
  const store = ObjectStore.open(resolve(options.store ?? DEFAULT_STORE));
  const sysimages = new Map<string, TarImage>();
  for (const text of options.sysimages ?? []) {
    const { name, path } = parseSysimage(text);
    if (sysimages.has(name)) throw new SetupError(`--sysimage ${name} is given twice`);
    sysimages.set(name, new TarImage(`system image ${name}`, path, store.makeTempDir(`sysimage-${name}`)));
  }
  let executor: JobExecutor;
  try {
    executor = createExecutor(options.workers === undefined ? {} : { workers: options.workers });
  } catch (error) {
    throw new SetupError((error as Error).message);
  }
  const service = new JobService({
    store,
    executor,
    sysimages,
    limits: { maxNodes: options.maxNodes ?? DEFAULT_MAX_NODES, maxJobBytes: DEFAULT_MAX_JOB_BYTES, maxOutput: options.maxOutput ?? DEFAULT_MAX_OUTPUT },
    defaults: {
      engine: engine as EngineName,
      ...(options.memory === undefined ? {} : { memory: options.memory }),
      ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
    },
  });
  return { store, executor, service, sysimages };
}
