/**
 * `zerovm bundle`: builds a zapp (src/zapp/zapp.ts) from a nexe and files,
 * or from a zapp.yaml the user wrote.
 *
 * Pipeline position: CLI -> here -> src/zapp (manifest + ustar) -> app.zapp,
 * which `zerovm run app.zapp` runs.
 *
 *   zerovm bundle [-o OUT.zapp] [--name N] [--version V] [--arg A]...
 *                 [--device D]... --program PROG.nexe [FILE|DIR|DEST=PATH]...
 *   zerovm bundle [-o OUT.zapp] --yaml zapp.yaml
 *
 * Command-line form: the program is stored under its file name; a FILE
 * under its file name; a DIR's contents at the zapp's root (like
 * `tar -C DIR .`); `DEST=PATH` puts a file at DEST, or a directory's
 * contents under DEST. The name defaults to the program's file name
 * without `.nexe`, the version to "0", the devices to stdin, stdout,
 * stderr and image, the output to NAME.zapp.
 *
 * zapp.yaml form: the program (`execution.groups[0].path`) and every
 * `bundling` entry are paths relative to the zapp.yaml's directory and
 * are stored under those same paths (directories recursively). Globs are
 * not expanded (say which files; the shell can expand them into the
 * command-line form).
 *
 * Files are read in sorted order and written with fixed times and owners,
 * so the same inputs give the same zapp.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from './args.js';
import { TarError, normaliseMemberPath, type TarEntry } from '../zapp/tar.js';
import { buildZapp, parseZappYaml, ZappError, type ZappManifest } from '../zapp/zapp.js';

export const BUNDLE_USAGE = `usage: zerovm bundle [-o OUT.zapp] [--name N] [--version V] [--arg A]... [--device D]...
                     --program PROG.nexe [FILE | DIR | DEST=PATH]...
       zerovm bundle [-o OUT.zapp] --yaml zapp.yaml
  FILE is stored under its name, a DIR's contents at the zapp's root, DEST=PATH at DEST.
  With --yaml, the program and the 'bundling' paths are relative to zapp.yaml and kept as they are.
`;

const DEFAULT_DEVICES = ['stdin', 'stdout', 'stderr', 'image'];

/** A host file or directory tree -> tar entries under `dest` ('' = the root). */
function collect(hostPath: string, dest: string, out: TarEntry[]): void {
  let stat;
  try {
    stat = statSync(hostPath);
  } catch {
    throw new CliError(`cannot read '${hostPath}': no such file or directory`);
  }
  if (stat.isDirectory()) {
    if (dest !== '') out.push({ path: dest, type: 'directory', data: new Uint8Array(0) });
    for (const name of readdirSync(hostPath).sort()) collect(join(hostPath, name), dest === '' ? name : `${dest}/${name}`, out);
  } else if (stat.isFile()) {
    if (dest === '') throw new CliError(`'${hostPath}' needs a name in the zapp (use DEST=${hostPath})`);
    out.push({ path: dest, type: 'file', data: readFileSync(hostPath), mode: stat.mode & 0o111 ? 0o755 : 0o644 });
  } else {
    throw new CliError(`'${hostPath}' is neither a file nor a directory`);
  }
}

function readProgram(path: string): Uint8Array {
  let data: Uint8Array;
  try {
    data = readFileSync(path);
  } catch {
    throw new CliError(`cannot read the program '${path}'`);
  }
  if (data.length < 4 || data[0] !== 0x7f || data[1] !== 0x45 || data[2] !== 0x4c || data[3] !== 0x46) throw new CliError(`the program '${path}' is not an ELF file (build one with zerovm cc)`);
  return data;
}

interface BundleArgs {
  output?: string;
  name?: string;
  version?: string;
  program?: string;
  yaml?: string;
  args: string[];
  devices: string[];
  files: string[];
}

function parseBundleArgs(argv: readonly string[]): BundleArgs {
  const parsed: BundleArgs = { args: [], devices: [], files: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      parsed.files.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      parsed.files.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = arg === '-o' ? 'output' : eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!['output', 'name', 'version', 'program', 'yaml', 'arg', 'device'].includes(name) || (!arg.startsWith('--') && arg !== '-o')) throw new CliError(`unknown option ${arg}\n${BUNDLE_USAGE}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new CliError(`option ${arg} needs a value`);
    if (name === 'arg') parsed.args.push(value);
    else if (name === 'device') parsed.devices.push(value);
    else parsed[name as 'output' | 'name' | 'version' | 'program' | 'yaml'] = value;
  }
  return parsed;
}

function fromCommandLine(a: BundleArgs): { manifest: ZappManifest; files: TarEntry[] } {
  if (a.program === undefined) throw new CliError(`--program PROG.nexe (or --yaml zapp.yaml) is required\n${BUNDLE_USAGE}`);
  const program = basename(a.program);
  const files: TarEntry[] = [{ path: program, type: 'file', data: readProgram(a.program), mode: 0o755 }];
  for (const item of a.files) {
    const eq = item.indexOf('=');
    if (eq > 0) collect(item.slice(eq + 1), normaliseMemberPath(item.slice(0, eq)), files);
    else collect(item, statSync(item, { throwIfNoEntry: false })?.isDirectory() ? '' : basename(item), files);
  }
  const manifest: ZappManifest = {
    name: a.name ?? program.replace(/\.nexe$/, ''),
    version: a.version ?? '0',
    program,
    args: a.args,
    devices: a.devices.length > 0 ? a.devices : DEFAULT_DEVICES,
    bundling: files.filter((f) => f.type === 'file').map((f) => f.path),
  };
  return { manifest, files };
}

function fromYaml(a: BundleArgs, yamlPath: string): { manifest: ZappManifest; files: TarEntry[] } {
  if (a.program !== undefined || a.name !== undefined || a.version !== undefined || a.args.length > 0 || a.devices.length > 0 || a.files.length > 0) {
    throw new CliError('with --yaml, the zapp is described by zapp.yaml alone: put the program, name, version, args, devices and files there');
  }
  let source: string;
  try {
    source = readFileSync(yamlPath, 'utf8');
  } catch {
    throw new CliError(`cannot read '${yamlPath}'`);
  }
  const manifest = parseZappYaml(source);
  const base = dirname(resolve(yamlPath));
  const files: TarEntry[] = [{ path: manifest.program, type: 'file', data: readProgram(join(base, manifest.program)), mode: 0o755 }];
  for (const entry of manifest.bundling) {
    if (/[*?[]/.test(entry)) throw new CliError(`zapp.yaml: bundling entry '${entry}' is a glob; list the files (globs are not expanded)`);
    const path = normaliseMemberPath(entry);
    if (path === manifest.program) continue;
    collect(join(base, path), path, files);
  }
  // A bundling directory may hold the program or a file listed on its own.
  const seen = new Set<string>();
  return { manifest, files: files.filter((f) => !seen.has(f.path) && seen.add(f.path)) };
}

export function runBundle(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(BUNDLE_USAGE);
    return 0;
  }
  const a = parseBundleArgs(argv);
  try {
    const { manifest, files } = a.yaml !== undefined ? fromYaml(a, a.yaml) : fromCommandLine(a);
    const zapp = buildZapp(manifest, files);
    const output = a.output ?? `${manifest.name}.zapp`;
    writeFileSync(output, zapp);
    process.stderr.write(`zerovm bundle: wrote ${output} (${manifest.name} ${manifest.version}: ${files.filter((f) => f.type === 'file').length} files, ${zapp.length} bytes)\n`);
    return 0;
  } catch (error) {
    if (error instanceof ZappError || error instanceof TarError) throw new CliError(error.message);
    throw error;
  }
}
