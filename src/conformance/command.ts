/**
 * Command templates (how the runner drives an implementation) and running
 * one command as a child process.
 *
 * Pipeline position: cli.ts parses --impl / --validate-impl into templates
 * here; session-case.ts and validator-case.ts expand them per case and run
 * them with `runCommand`.
 *
 * Template syntax (conformance/README.md, "Driving an implementation"):
 * words split at white space, '...' and "..." quote; `{name}` is replaced
 * by a value; `{name=value?text}` becomes `text` when the value of `name`
 * is `value` and nothing otherwise; a word whose placeholders all expand
 * to nothing is dropped (so `--features={features}` disappears when a case
 * has no feature list, and so do optional flags); a word that
 * is exactly `{options}` becomes the case's option words (none or more).
 * No shell is involved: the first word is the program.
 */
import { spawn } from 'node:child_process';

/** A command template, split into words, with the placeholder names it uses. */
export interface CommandTemplate {
  readonly source: string;
  readonly words: readonly string[];
}

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

const PLACEHOLDER = /\{([a-z]+)(?:=([^?}]*)\?([^}]*))?\}/g;

/** Splits a template into words (quotes group, no escapes inside '...'; \" and \\ inside "..."). */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let current = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "'" || ch === '"') {
      const end = findClosing(text, i, ch);
      let body = text.slice(i + 1, end);
      if (ch === '"') body = body.replace(/\\(["\\])/g, '$1');
      current += body;
      inWord = true;
      i = end;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(current);
      current = '';
      inWord = false;
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(current);
  return words;
}

function findClosing(text: string, open: number, quote: string): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\' && quote === '"') {
      i++;
      continue;
    }
    if (text[i] === quote) return i;
  }
  throw new TemplateError(`unclosed ${quote} in command template: ${text}`);
}

/** Parses a template; every placeholder must be one of `allowed`; `required` must appear. */
export function parseTemplate(source: string, allowed: readonly string[], required: readonly string[]): CommandTemplate {
  const words = splitWords(source);
  if (words.length === 0) throw new TemplateError('the command template is empty');
  const used = new Set<string>();
  for (const word of words) {
    for (const m of word.matchAll(PLACEHOLDER)) {
      const name = m[1] as string;
      if (!allowed.includes(name)) throw new TemplateError(`unknown placeholder {${name}} in '${source}' (known: ${allowed.map((a) => `{${a}}`).join(' ')})`);
      used.add(name);
    }
  }
  for (const name of required) if (!used.has(name)) throw new TemplateError(`the command template '${source}' must contain {${name}}`);
  return { source, words };
}

/** A template from words that are already split (no quoting applies). */
export function templateFromWords(words: readonly string[]): CommandTemplate {
  return { source: words.map((w) => (/\s/.test(w) ? `'${w}'` : w)).join(' '), words };
}

/**
 * Expands a template. `options` replaces a word `{options}`; without one,
 * the options go right before the first word that holds `{before}` (when
 * given), so `zerovm {manifest}` runs as `zerovm -F /tmp/.../manifest`.
 */
export function expandTemplate(
  template: CommandTemplate,
  values: Readonly<Record<string, string>>,
  options: readonly string[] = [],
  before?: string,
): string[] {
  const out: string[] = [];
  const hasOptionsWord = template.words.includes('{options}');
  let inserted = hasOptionsWord;
  for (const word of template.words) {
    if (word === '{options}') {
      out.push(...options);
      continue;
    }
    if (!inserted && before !== undefined && word.includes(`{${before}}`)) {
      out.push(...options);
      inserted = true;
    }
    let placeholders = 0;
    let empty = 0;
    const expanded = word.replace(PLACEHOLDER, (_m, name: string, equals: string | undefined, text: string | undefined) => {
      placeholders++;
      const value = values[name] ?? '';
      const result = equals === undefined ? value : value === equals ? (text ?? '') : '';
      if (result === '') empty++;
      return result;
    });
    if (placeholders > 0 && empty === placeholders) continue;
    out.push(expanded);
  }
  if (!inserted) out.push(...options);
  return out;
}

export interface CommandResult {
  /** Exit status, or null when the process was killed by a signal. */
  readonly status: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The runner killed it after its time limit. */
  readonly timedOut: boolean;
  /** The program could not be started (ENOENT...). */
  readonly spawnError: string | undefined;
  readonly milliseconds: number;
}

const OUTPUT_LIMIT = 4 * 1024 * 1024;

/** Runs `argv` with no shell, stdin from /dev/null, stdout and stderr captured (each up to 4 MiB). */
export function runCommand(argv: readonly string[], options: { readonly cwd: string; readonly timeoutMs: number }): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const [program, ...args] = argv;
    if (program === undefined) {
      resolve({ status: null, signal: null, stdout: '', stderr: '', timedOut: false, spawnError: 'empty command', milliseconds: 0 });
      return;
    }
    const child = spawn(program, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutSize = 0;
    let stderrSize = 0;
    let timedOut = false;
    let spawnError: string | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdoutSize < OUTPUT_LIMIT) stdout.push(chunk);
      stdoutSize += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrSize < OUTPUT_LIMIT) stderr.push(chunk);
      stderrSize += chunk.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('error', (error) => {
      spawnError = error.message;
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
        spawnError,
        milliseconds: Date.now() - started,
      });
    });
  });
}
