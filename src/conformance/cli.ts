/**
 * The conformance runner's command line, shared by `zerovm conformance`
 * (src/cli/conformance-command.ts, which knows this project's own
 * implementation) and the stand-alone `zerovm-conformance` package
 * (conformance/bin/zerovm-conformance.js, which drives whatever --impl
 * names).
 *
 * Pipeline position: the outermost layer of the runner: arguments ->
 * loader.ts (cases) -> runner.ts (run) -> results.ts (print) -> exit code
 * (0 only when every case that ran passed; 1 when one failed; 2 for a bad
 * command line or a malformed case file).
 */
import { availableParallelism, tmpdir } from 'node:os';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseTemplate, templateFromWords, TemplateError, type CommandTemplate } from './command.js';
import { CaseFormatError, VALIDATION_POLICIES, type Profile, type ValidationPolicyName } from './format.js';
import { caseName, loadSuite, selectCases } from './loader.js';
import { formatJunit, formatOutcome, formatSummary, formatTap } from './results.js';
import { runCases } from './runner.js';
import { validatorCommand, VALIDATOR_DETAILS, type ValidatorCommands, type ValidatorDetail } from './validator-case.js';

/** This project's own implementation, when the runner is part of it. */
export interface OwnImplementation {
  /** The session command for an engine: words with {options} and {manifest}. */
  session(engine: string): readonly string[];
  /** The validate command: words with {hex}, {base}, {policy...}, {features}. */
  readonly validate: readonly string[];
}

export interface RunnerEnvironment {
  /** Program name for messages and help. */
  readonly name: string;
  /** The suite: the folder holding cases/ and programs/. */
  readonly suiteRoot: string;
  /** Present in `zerovm conformance`: the default implementation. */
  readonly own?: OwnImplementation;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
}

export const SESSION_PLACEHOLDERS = ['manifest', 'options'];
export const VALIDATE_PLACEHOLDERS = ['hex', 'raw', 'base', 'policy', 'features'];

export function usage(name: string, own: boolean): string {
  return `usage: ${name} ${own ? '[--engine native|unicorn|auto] ' : ''}[--impl "CMD {manifest}"] [--validate-impl[-POLICY] "CMD {raw}"]
       [--filter AREA[/CASE-PREFIX]] [--profile core|all] [--junit FILE | --tap] [--jobs N] [options]

Runs the ZeroVM conformance suite against ${own ? 'this implementation (node bin/zerovm.js), or ' : ''}any implementation
given as a command template. Exit status: 0 when every case that ran passed, 1 when one failed,
2 for a bad command line or a malformed case file.

  --impl TEMPLATE          the session command; {manifest} is the manifest's path, {options} the
                           case's options (-s, -F, -t 1, -P; put before {manifest} when absent).
                           For the original ZeroVM: --impl "zerovm {manifest}"${own ? '' : ' (required)'}
  --validate-impl TEMPLATE the validator command; {hex} (hex text file), {raw} (raw bytes: exactly
                           the case's region), {base} (0x...), {policy} (nacl, zerovm or
                           deterministic), {features} (empty: every feature); {NAME=VALUE?TEXT} is
                           TEXT when NAME is VALUE; a word whose placeholders are all empty is
                           dropped. Exit 0 valid, 1 invalid. It runs the cases of the policies it can
                           select ({policy}, {policy=NAME?...}), and nacl's. Without a validator
                           command, validator cases are skipped${own ? ' (with --impl)' : ''}
  --validate-impl-nacl T, --validate-impl-zerovm T, --validate-impl-deterministic T
                           the validator command for that policy's cases (it needs no {policy}).
                           Cases no command can express (policy, or a CPU feature set without
                           {features}) are skipped with the reason
  --validator-detail D     verdict | offsets | rules (errors as JSON {"errors":[{"offset","rule"}]} on
                           stdout, offsets also as ncval's "<hex address>: message" lines);
                           default ${own ? 'rules for this implementation, ' : ''}offsets
${own ? '  --engine NAME            the engine this implementation runs sessions with (default auto)\n' : ''}  --filter LIST            areas or case-name prefixes, comma-separated or repeated (e.g. channels,trap/read)
  --profile core|all       core: the contract; all: also this project's documented extensions
                           (default ${own ? 'all for this implementation, core with --impl' : 'core'})
  --strict / --no-strict   also compare reference wordings of exit states (default ${own ? 'on for this implementation' : 'off'})
  --junit FILE             also write JUnit XML to FILE
  --tap                    print TAP version 13 on stdout (the summary goes to stderr)
  --jobs N                 cases run in parallel (default: the number of CPUs)
  --timeout SECONDS        kill an implementation that runs longer (default 60)
  --work-dir DIR           where case folders go (default: a new folder in the system's temp dir)
  --keep                   keep every case folder (failures are always kept)
  --quiet                  print only failures and the summary
  --list                   list the selected cases and exit
  --help                   this text
`;
}

class UsageError extends Error {}

interface Options {
  impl?: string;
  validateImpl?: string;
  /** --validate-impl-<policy> */
  validateImplFor: Partial<Record<ValidationPolicyName, string>>;
  validatorDetail?: ValidatorDetail;
  engine?: string;
  filters: string[];
  profile?: 'core' | 'all';
  strict?: boolean;
  junit?: string;
  tap: boolean;
  jobs: number;
  timeoutSeconds: number;
  workDir?: string;
  keep: boolean;
  quiet: boolean;
  list: boolean;
  help: boolean;
}

function parseOptions(argv: readonly string[], own: boolean): Options {
  const options: Options = { filters: [], validateImplFor: {}, tap: false, jobs: availableParallelism(), timeoutSeconds: 60, keep: false, quiet: false, list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq < 0 ? arg : arg.slice(0, eq);
    const value = (): string => {
      const v = eq < 0 ? argv[++i] : arg.slice(eq + 1);
      if (v === undefined) throw new UsageError(`option ${name} needs a value`);
      return v;
    };
    const flag = (): void => {
      if (eq >= 0) throw new UsageError(`option ${name} takes no value`);
    };
    const policy = name.startsWith('--validate-impl-') ? name.slice('--validate-impl-'.length) : undefined;
    if (policy !== undefined) {
      if (!(VALIDATION_POLICIES as readonly string[]).includes(policy)) throw new UsageError(`unknown argument ${arg} (the policies: ${VALIDATION_POLICIES.join(', ')})`);
      options.validateImplFor[policy as ValidationPolicyName] = value();
      continue;
    }
    switch (name) {
      case '--impl':
        options.impl = value();
        break;
      case '--validate-impl':
        options.validateImpl = value();
        break;
      case '--validator-detail': {
        const v = value();
        if (!(VALIDATOR_DETAILS as readonly string[]).includes(v)) throw new UsageError(`--validator-detail must be one of ${VALIDATOR_DETAILS.join(', ')}`);
        options.validatorDetail = v as ValidatorDetail;
        break;
      }
      case '--engine':
        if (!own) throw new UsageError('--engine selects an engine of zerovm-ts; use --impl for another implementation');
        options.engine = value();
        break;
      case '--filter':
        options.filters.push(...value().split(',').map((f) => f.trim()).filter((f) => f.length > 0));
        break;
      case '--profile': {
        const v = value();
        if (v !== 'core' && v !== 'all') throw new UsageError('--profile must be core or all');
        options.profile = v;
        break;
      }
      case '--strict':
        flag();
        options.strict = true;
        break;
      case '--no-strict':
        flag();
        options.strict = false;
        break;
      case '--junit':
        options.junit = value();
        break;
      case '--tap':
        flag();
        options.tap = true;
        break;
      case '--jobs': {
        const v = value();
        if (!/^[1-9]\d*$/.test(v)) throw new UsageError('--jobs must be a whole number from 1');
        options.jobs = Number(v);
        break;
      }
      case '--timeout': {
        const v = value();
        if (!/^[1-9]\d*$/.test(v)) throw new UsageError('--timeout must be a whole number of seconds from 1');
        options.timeoutSeconds = Number(v);
        break;
      }
      case '--work-dir':
        options.workDir = value();
        break;
      case '--keep':
        flag();
        options.keep = true;
        break;
      case '--quiet':
        flag();
        options.quiet = true;
        break;
      case '--list':
        flag();
        options.list = true;
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  if (options.engine !== undefined && options.impl !== undefined) throw new UsageError('--engine applies to zerovm-ts itself; it cannot be combined with --impl');
  return options;
}

interface Implementation {
  /** This project's own implementation (it must pass the cases the original deviates from). */
  readonly own: boolean;
  readonly impl: CommandTemplate;
  readonly validate: ValidatorCommands | undefined;
  readonly detail: ValidatorDetail;
  readonly strict: boolean;
  readonly profiles: readonly Profile[];
}

function implementation(options: Options, own: OwnImplementation | undefined): Implementation {
  const external = options.impl !== undefined;
  if (!external && own === undefined) throw new UsageError('--impl is required: the command that runs a session, e.g. --impl "zerovm {manifest}"');
  const impl = external
    ? parseTemplate(options.impl as string, SESSION_PLACEHOLDERS, ['manifest'])
    : templateFromWords((own as OwnImplementation).session(options.engine ?? 'auto'));
  const given = options.validateImpl !== undefined || Object.keys(options.validateImplFor).length > 0;
  const byPolicy: Partial<Record<ValidationPolicyName, CommandTemplate>> = {};
  for (const [policy, source] of Object.entries(options.validateImplFor)) byPolicy[policy as ValidationPolicyName] = parseTemplate(source, VALIDATE_PLACEHOLDERS, []);
  const validate: ValidatorCommands | undefined = given
    ? { any: options.validateImpl === undefined ? undefined : parseTemplate(options.validateImpl, VALIDATE_PLACEHOLDERS, []), byPolicy }
    : external || own === undefined
      ? undefined
      : { any: templateFromWords(own.validate), byPolicy: {} };
  const ours = !external && own !== undefined;
  const profile = options.profile ?? (ours ? 'all' : 'core');
  /* our Unicorn engine (chosen, or what auto picks off x86-64) emulates the CPU */
  const engine = options.engine ?? 'auto';
  const emulated = ours && (engine === 'unicorn' || (engine === 'auto' && process.arch !== 'x64'));
  return {
    own: ours,
    impl,
    validate,
    detail: options.validatorDetail ?? (ours && !given ? 'rules' : 'offsets'),
    strict: options.strict ?? ours,
    profiles: profile === 'all' ? ['core', 'zerovm-ts', ...(emulated ? [] : ['native-cpu'] as const)] : ['core'],
  };
}

/** The validator commands for the run's first line: `; validator: T`, `; validator (zerovm): T`. */
function describeValidators(commands: ValidatorCommands | undefined): string {
  if (commands === undefined) return '';
  const parts = Object.entries(commands.byPolicy).map(([policy, t]) => `; validator (${policy}): ${t.source}`);
  return `${commands.any === undefined ? '' : `; validator: ${commands.any.source}`}${parts.join('')}`;
}

/** Runs the runner's command line; resolves with the process exit code. */
export async function main(argv: readonly string[], env: RunnerEnvironment): Promise<number> {
  const out = env.stdout ?? ((text: string) => process.stdout.write(text));
  const err = env.stderr ?? ((text: string) => process.stderr.write(text));
  let options: Options;
  let impl: Implementation;
  try {
    options = parseOptions(argv, env.own !== undefined);
    if (options.help) {
      out(usage(env.name, env.own !== undefined));
      return 0;
    }
    impl = implementation(options, env.own);
  } catch (error) {
    if (error instanceof UsageError || error instanceof TemplateError) {
      err(`${env.name}: ${error.message}\n\n${usage(env.name, env.own !== undefined)}`);
      return 2;
    }
    throw error;
  }

  let selection;
  try {
    const cases = loadSuite(env.suiteRoot);
    const commands = impl.validate;
    selection = selectCases(cases, {
      filters: options.filters,
      profiles: impl.profiles,
      validator: commands !== undefined,
      ...(commands === undefined
        ? {}
        : {
            validatorSkip: (c) => {
              const command = validatorCommand(commands, c);
              return typeof command === 'string' ? command : undefined;
            },
          }),
    });
  } catch (error) {
    if (error instanceof CaseFormatError) {
      err(`${env.name}: malformed case file: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  if (selection.length === 0) {
    err(`${env.name}: no case matches --filter ${options.filters.join(',')}\n`);
    return 2;
  }
  if (options.list) {
    for (const s of selection) out(`${caseName(s.case)}\t${s.case.kind}\t${s.case.profile}\t${s.case.spec}\t${s.case.title}${s.skip === undefined ? '' : `\t(skipped: ${s.skip})`}\n`);
    return 0;
  }

  const ownWorkDir = options.workDir === undefined;
  const workDir = ownWorkDir ? mkdtempSync(resolve(tmpdir(), 'zerovm-conformance-')) : resolve(options.workDir as string);
  mkdirSync(workDir, { recursive: true });
  const human = options.tap ? err : out;
  human(`${env.name}: ${selection.length} cases, implementation: ${impl.impl.source}${describeValidators(impl.validate)}\n`);
  const started = Date.now();
  const outcomes = await runCases(selection, {
    settings: { suiteRoot: env.suiteRoot, workDir, cwd: process.cwd(), strict: impl.strict, timeoutMs: options.timeoutSeconds * 1000, keep: options.keep, allowDeviations: !impl.own },
    impl: impl.impl,
    validate: impl.validate,
    validatorDetail: impl.detail,
    jobs: options.jobs,
    onOutcome: (o) => {
      if (!options.quiet || o.status === 'fail') human(formatOutcome(o));
    },
  });
  const seconds = (Date.now() - started) / 1000;
  human(`\n${formatSummary(outcomes, seconds)}`);
  if (options.tap) out(formatTap(outcomes));
  if (options.junit !== undefined) writeFileSync(options.junit, formatJunit(outcomes, seconds));
  const failed = outcomes.some((o) => o.status === 'fail');
  if (failed) human(`failed cases keep their files under ${workDir}\n`);
  else if (ownWorkDir && readdirSync(workDir).length === 0) rmSync(workDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}
