/**
 * Zapps: a ZeroVM application as one tar file — a `zapp.yaml` describing
 * it, the program (a nexe) and the files it reads — in the shape zpm (the
 * ZeroVM package manager, zerovm/zerovm-cli zpmlib) gave it.
 *
 * Pipeline position: `zerovm bundle` (src/cli/bundle-command.ts) ->
 * buildZapp -> app.zapp -> `zerovm run app.zapp` (src/cli/run-command.ts)
 * -> openZapp -> the program is extracted and the zapp itself is mounted
 * read-only at '/' as the program's image (toolchain/zrt/zrt.c).
 *
 * The zapp.yaml this module reads and writes (the YAML subset of yaml.ts):
 *
 *     meta:
 *       name: "hello"            # required
 *       version: "1.0"           # zpm wrote "Version"; both are read
 *     execution:
 *       groups:                  # exactly one group: `zerovm run` runs one program
 *         - name: "hello"
 *           path: "hello.nexe"   # a member of the zapp
 *           args: ["--greet", "x"]  # or a string split on blanks, as zpm wrote it
 *           devices:             # the channels the program expects
 *             - name: "stdin"
 *             - name: "stdout"
 *     bundling:                  # files put in the zapp (relative to zapp.yaml)
 *       - "hello.nexe"
 *       - "data/"
 *
 * Choices a reader would question:
 * - zpm's `path: file://DEVICE:NAME` named a program inside another image
 *   (a ZeroCloud object); here the program is always a member of the zapp,
 *   so any other form is refused with that explanation.
 * - The zapp is mounted as is, so the program also sees zapp.yaml and its
 *   own nexe in its file system; copying everything else into a second tar
 *   would cost time and space for no isolation gain (the image is
 *   read-only).
 * - Devices are names of channels (`/dev/NAME`); `zerovm run` provides
 *   stdin, stdout, stderr, nvram and image, and any other one must be given
 *   with `--channel /dev/NAME=PATH`, so a zapp never runs with a channel it
 *   declared silently missing.
 */
import { readTar, writeTar, normaliseMemberPath, type TarEntry } from './tar.js';
import { formatYaml, parseYaml, type YamlValue } from './yaml.js';

export class ZappError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZappError';
  }
}

export const ZAPP_YAML = 'zapp.yaml';
/** The channels `zerovm run` itself provides to a zapp. */
export const BUILTIN_DEVICES = ['stdin', 'stdout', 'stderr', 'nvram', 'image'] as const;

export interface ZappManifest {
  readonly name: string;
  readonly version: string;
  /** The nexe, as a member path of the zapp. */
  readonly program: string;
  /** Arguments given before the user's own (`zerovm run app.zapp USER-ARGS`). */
  readonly args: readonly string[];
  /** Channel names (`/dev/NAME`) the program expects. */
  readonly devices: readonly string[];
  /** Paths (files or directories) the zapp holds, relative to zapp.yaml's directory when bundling. */
  readonly bundling: readonly string[];
}

type Mapping = { [key: string]: YamlValue };

function mapping(value: YamlValue | undefined, what: string): Mapping {
  if (value === null || value === undefined || typeof value === 'string' || Array.isArray(value)) throw new ZappError(`zapp.yaml: ${what} must be a mapping`);
  return value;
}

function text(value: YamlValue | undefined, what: string, fallback?: string): string {
  if ((value === undefined || value === null) && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw new ZappError(`zapp.yaml: ${what} must be a string`);
  return value;
}

function strings(value: YamlValue | undefined, what: string): string[] {
  if (value === undefined || value === null) return [];
  // zpm wrote `args: "a b"`; a sequence keeps arguments that contain blanks.
  if (typeof value === 'string') return value.split(/[ \t]+/).filter((a) => a !== '');
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw new ZappError(`zapp.yaml: ${what} must be a string or a sequence of strings`);
  return value as string[];
}

/** zapp.yaml text -> the manifest; errors name the field. */
export function parseZappYaml(source: string): ZappManifest {
  let doc: YamlValue;
  try {
    doc = parseYaml(source);
  } catch (error) {
    throw new ZappError(`zapp.yaml: ${(error as Error).message}`);
  }
  const root = mapping(doc, 'the document');
  const meta = mapping(root.meta, "'meta'");
  const name = text(meta.name, 'meta.name');
  const version = text(meta.version ?? meta.Version, 'meta.version', '0');
  const execution = mapping(root.execution, "'execution'");
  const groups = execution.groups;
  if (!Array.isArray(groups) || groups.length === 0) throw new ZappError("zapp.yaml: execution.groups must be a sequence with one group");
  if (groups.length > 1) throw new ZappError(`zapp.yaml: execution.groups has ${groups.length} groups; zerovm runs one program per zapp`);
  const group = mapping(groups[0], 'execution.groups[0]');
  const path = text(group.path, 'execution.groups[0].path');
  if (path.includes('://')) throw new ZappError(`zapp.yaml: path '${path}': the program must be a member of the zapp (a relative path such as 'prog.nexe'), not zpm's file://DEVICE:NAME form`);
  const devicesValue = group.devices ?? null;
  if (devicesValue !== null && !Array.isArray(devicesValue)) throw new ZappError('zapp.yaml: execution.groups[0].devices must be a sequence');
  const devices = (devicesValue ?? []).map((d, i) => {
    if (typeof d === 'string') return d;
    return text(mapping(d, `devices[${i}]`).name, `execution.groups[0].devices[${i}].name`);
  });
  let program: string;
  try {
    program = normaliseMemberPath(path);
  } catch (error) {
    throw new ZappError(`zapp.yaml: execution.groups[0].path: ${(error as Error).message}`);
  }
  return { name, version, program, args: strings(group.args, 'execution.groups[0].args'), devices, bundling: strings(root.bundling ?? null, "'bundling'") };
}

export function formatZappYaml(manifest: ZappManifest): string {
  const group: Mapping = { name: manifest.name, path: manifest.program, args: [...manifest.args] };
  if (manifest.devices.length > 0) group.devices = manifest.devices.map((name) => ({ name }));
  const doc: Mapping = {
    meta: { name: manifest.name, version: manifest.version },
    execution: { groups: [group] },
  };
  if (manifest.bundling.length > 0) doc.bundling = [...manifest.bundling];
  return `# A zapp (ZeroVM application), written by zerovm bundle; format: toolchain/README.md\n${formatYaml(doc)}`;
}

/**
 * The zapp's bytes: zapp.yaml first, then `files` (the program among them),
 * with a directory entry for every parent directory so the program can
 * stat them.
 */
export function buildZapp(manifest: ZappManifest, files: readonly TarEntry[]): Uint8Array {
  const paths = new Set(files.map((f) => normaliseMemberPath(f.path)));
  if (!paths.has(manifest.program)) throw new ZappError(`the program '${manifest.program}' is not among the zapp's files`);
  if (paths.has(ZAPP_YAML)) throw new ZappError(`'${ZAPP_YAML}' is written by zerovm bundle from the manifest; do not add one as a file`);
  const entries: TarEntry[] = [{ path: ZAPP_YAML, type: 'file', data: new TextEncoder().encode(formatZappYaml(manifest)) }];
  const directories = new Set(files.filter((f) => f.type === 'directory').map((f) => normaliseMemberPath(f.path)));
  for (const file of files) {
    const parts = normaliseMemberPath(file.path).split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!directories.has(dir)) {
        directories.add(dir);
        entries.push({ path: dir, type: 'directory', data: new Uint8Array(0) });
      }
    }
    entries.push(file);
  }
  return writeTar(entries);
}

export interface OpenedZapp {
  readonly manifest: ZappManifest;
  readonly program: Uint8Array;
  readonly entries: readonly TarEntry[];
}

/** A zapp's bytes -> its manifest, program and members; errors say what is wrong with the file. */
export function openZapp(bytes: Uint8Array, where = 'the zapp'): OpenedZapp {
  let entries: TarEntry[];
  try {
    entries = readTar(bytes);
  } catch (error) {
    throw new ZappError(`${where} is not a readable tar archive: ${(error as Error).message}`);
  }
  const yaml = entries.find((e) => e.path === ZAPP_YAML && e.type === 'file');
  if (yaml === undefined) throw new ZappError(`${where} has no ${ZAPP_YAML} (members: ${entries.slice(0, 8).map((e) => e.path).join(', ') || 'none'})`);
  const manifest = parseZappYaml(new TextDecoder().decode(yaml.data));
  const program = entries.find((e) => e.path === manifest.program && e.type === 'file');
  if (program === undefined) throw new ZappError(`${where}: its program '${manifest.program}' (execution.groups[0].path) is not in the zapp`);
  return { manifest, program: program.data, entries };
}
