/**
 * Runs one session case: prepares its folder (input files, the manifest
 * from its template), runs the implementation's command, and compares the
 * process exit code, the report on stdout and the files left behind. A
 * case with `runs` > 1 is run again in a fresh folder, and every run must
 * give the same files and report as the first (determinism), timings and
 * host addresses aside.
 *
 * Pipeline position: runner.ts -> here -> command.ts (run), report.ts
 * (parse), compare.ts (check) -> outcome.ts.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { compareAccounting, compareEtags, compareExitState, compareFile, compareNumber, sha1Hex, type Difference } from './compare.js';
import { expandTemplate, runCommand, type CommandResult, type CommandTemplate } from './command.js';
import type { ExitStateExpect, ManifestLine, SessionCase } from './format.js';
import type { CaseOutcome, RunSettings } from './outcome.js';
import { parseReport, reportSeparator, type ParsedReport } from './report.js';

/** The manifest's file name in the case folder. */
export const MANIFEST_FILE = 'zerovm.manifest';

/** Placeholders a manifest line may use. */
export interface ManifestValues {
  readonly program: string;
  readonly tmp: string;
  readonly suite: string;
}

/** The manifest text of a template: lines joined with "\n", a final "\n"; {program}, {tmp}, {suite} and, in repeated lines, {i} replaced. */
export function expandManifest(lines: readonly ManifestLine[], values: ManifestValues): string {
  const substitute = (text: string, i?: number): string =>
    text.replace(/\{(program|tmp|suite|i)\}/g, (m, name: string) => {
      if (name === 'i') return i === undefined ? m : String(i);
      return values[name as keyof ManifestValues];
    });
  const out: string[] = [];
  for (const line of lines) {
    if ('repeat' in line) for (let i = 0; i < line.repeat; i++) out.push(substitute(line.text, i));
    else out.push(substitute(line.text));
  }
  return out.map((line) => `${line}\n`).join('');
}

/** Creates the case's input files in `dir`. */
export function materializeFiles(c: SessionCase, dir: string, suiteRoot: string): void {
  for (const [name, source] of c.files) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    switch (source.kind) {
      case 'bytes':
        writeFileSync(path, source.bytes);
        break;
      case 'fill':
        writeFileSync(path, Buffer.alloc(source.size, source.byte));
        break;
      case 'path':
        copyFileSync(join(suiteRoot, source.path), path);
        break;
      case 'directory':
        mkdirSync(path, { recursive: true });
        break;
    }
  }
}

/** What one run left: compared with the case, and between runs. */
interface RunRecord {
  readonly dir: string;
  readonly command: string;
  readonly result: CommandResult;
  readonly report: ParsedReport | string;
  /** Every regular file of the folder (the manifest aside): name -> sha1. */
  readonly files: ReadonlyMap<string, string>;
}

function listFiles(dir: string, prefix = ''): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const name = prefix + entry.name;
    if (entry.isDirectory()) names.push(...listFiles(join(dir, entry.name), `${name}/`));
    else if (entry.isFile() && name !== MANIFEST_FILE) names.push(name);
  }
  return names.sort();
}

async function runOnce(c: SessionCase, impl: CommandTemplate, settings: RunSettings, run: number): Promise<RunRecord> {
  const dir = mkdtempSync(join(settings.workDir, `${c.area}-${c.id}-${run}-`));
  materializeFiles(c, dir, settings.suiteRoot);
  const manifestPath = join(dir, MANIFEST_FILE);
  if (c.manifest !== null) {
    const program = c.program === undefined ? join(dir, 'no-program') : join(settings.suiteRoot, c.program);
    writeFileSync(manifestPath, expandManifest(c.manifest, { program, tmp: dir, suite: settings.suiteRoot }));
  }
  const argv = expandTemplate(impl, { manifest: manifestPath }, c.options, 'manifest');
  const result = await runCommand(argv, { cwd: settings.cwd, timeoutMs: settings.timeoutMs });
  const files = new Map<string, string>();
  for (const name of listFiles(dir)) files.set(name, sha1Hex(readFileSync(join(dir, name))));
  return {
    dir,
    command: argv.map((w) => (/[\s'"]/.test(w) ? JSON.stringify(w) : w)).join(' '),
    result,
    report: parseReport(result.stdout, reportSeparator(c.options)),
    files,
  };
}

function readIfFile(path: string): Uint8Array | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  return readFileSync(path);
}

/** An expected exit state with {tmp} (the case folder) and {suite} replaced (a failed open names its path). */
function withPaths(expected: ExitStateExpect, dir: string, suite: string): ExitStateExpect {
  const put = (text: string): string => text.replaceAll('{tmp}', dir).replaceAll('{suite}', suite);
  if (expected.kind === 'exact') return { kind: 'exact', text: put(expected.text) };
  return expected.reference === undefined ? expected : { ...expected, reference: put(expected.reference) };
}

/** Differences between one run and the case's expectations. */
function checkRun(c: SessionCase, record: RunRecord, settings: RunSettings): Difference[] {
  const { result } = record;
  if (result.spawnError !== undefined) return [{ what: 'command', expected: 'the implementation to start', actual: result.spawnError }];
  if (result.timedOut) return [{ what: 'command', expected: `an exit within ${settings.timeoutMs / 1000} s`, actual: 'still running; killed' }];
  const differences: Difference[] = [];
  const status = result.status === null ? `killed by ${result.signal ?? 'a signal'}` : String(result.status);
  if (status !== String(c.expect.exitCode)) differences.push({ what: 'exit code', expected: String(c.expect.exitCode), actual: status });
  if (c.expect.stdout !== undefined && result.stdout !== c.expect.stdout) {
    differences.push({ what: 'stdout', expected: JSON.stringify(c.expect.stdout), actual: JSON.stringify(result.stdout.slice(0, 200)) });
  }
  const want = c.expect.report;
  if (want !== undefined) {
    const report = record.report;
    if (typeof report === 'string') {
      differences.push({ what: 'report', expected: 'the report on stdout', actual: report, detail: result.stdout.split('\n').slice(0, 8).map((l) => `| ${l}`) });
    } else {
      const push = (d: Difference | undefined): void => {
        if (d !== undefined) differences.push(d);
      };
      if (want.validatorState !== undefined) push(compareNumber('report: validator state', want.validatorState, report.validatorState));
      if (want.daemonState !== undefined) push(compareNumber('report: daemon state', want.daemonState, report.daemonState));
      if (want.userReturnCode !== undefined) push(compareNumber('report: user return code', want.userReturnCode, report.userReturnCode));
      if (want.etags !== undefined) push(compareEtags(want.etags, report.etags));
      if (want.accounting !== undefined) push(compareAccounting(want.accounting, report.accounting));
      if (want.exitState !== undefined) push(compareExitState(withPaths(want.exitState, record.dir, settings.suiteRoot), report.exitState, settings.strict));
    }
  }
  for (const [name, expected] of c.expect.files) {
    const d = compareFile(name, expected, readIfFile(join(record.dir, name)));
    if (d !== undefined) differences.push(d);
  }
  return differences;
}

/** The report with what may change between runs masked: CPU times and host addresses. */
function stableReport(report: ParsedReport | string): string {
  if (typeof report === 'string') return report;
  const accounting = report.accounting.split(' ').slice(2).join(' ');
  const exitState = report.exitState.replace(/0x[0-9a-fA-F]+/g, '0x…');
  return [report.validatorState, report.daemonState, report.userReturnCode, report.etags, accounting, exitState].join(' | ');
}

/** Differences between a later run and the first. */
function compareRuns(first: RunRecord, later: RunRecord, run: number): Difference[] {
  const what = `run ${run} vs run 1`;
  const differences: Difference[] = [];
  if (first.result.status !== later.result.status) {
    differences.push({ what: `${what}: exit code`, expected: String(first.result.status), actual: String(later.result.status) });
  }
  const a = stableReport(first.report);
  const b = stableReport(later.report);
  if (a !== b) differences.push({ what: `${what}: report (CPU times and addresses aside)`, expected: a, actual: b });
  const names = new Set([...first.files.keys(), ...later.files.keys()]);
  for (const name of [...names].sort()) {
    const x = first.files.get(name);
    const y = later.files.get(name);
    if (x !== y) differences.push({ what: `${what}: file ${name}`, expected: x === undefined ? 'no such file' : `sha1 ${x}`, actual: y === undefined ? 'no such file' : `sha1 ${y}` });
  }
  return differences;
}

export async function runSessionCase(c: SessionCase, impl: CommandTemplate, settings: RunSettings): Promise<CaseOutcome> {
  const started = Date.now();
  const records: RunRecord[] = [];
  const differences: Difference[] = [];
  for (let run = 1; run <= c.runs; run++) {
    const record = await runOnce(c, impl, settings, run);
    records.push(record);
    differences.push(...checkRun(c, record, settings).map((d) => (c.runs > 1 ? { ...d, what: `run ${run}: ${d.what}` } : d)));
    if (run > 1) differences.push(...compareRuns(records[0] as RunRecord, record, run));
  }
  const failed = differences.length > 0;
  const deviates = failed && c.deviation !== undefined && settings.allowDeviations;
  const first = records[0] as RunRecord;
  for (const record of records) {
    if (settings.keep || (failed && !deviates && record === first)) continue;
    rmSync(record.dir, { recursive: true, force: true });
  }
  if (deviates) return { case: c, status: 'deviation', differences, command: first.command, milliseconds: Date.now() - started };
  return {
    case: c,
    status: failed ? 'fail' : 'pass',
    differences,
    command: first.command,
    ...(failed || settings.keep ? { kept: first.dir } : {}),
    ...(failed && first.result.stderr.length > 0 ? { stderr: first.result.stderr.split('\n').slice(0, 6).join('\n') } : {}),
    milliseconds: Date.now() - started,
  };
}
