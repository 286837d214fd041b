/**
 * Runs a selection of cases in parallel (each case is one or more child
 * processes of the implementation under test) and hands each outcome on
 * in case order as soon as it and every case before it are done.
 *
 * Pipeline position: cli.ts -> loader.ts (select) -> here ->
 * session-case.ts / validator-case.ts -> results.ts.
 *
 * Scheduling: cases that wait on a clock (an expected timeout) or run more
 * than once start first, so that the slow ones overlap with the many short
 * ones instead of finishing last.
 */
import type { CommandTemplate } from './command.js';
import type { ConformanceCase } from './format.js';
import type { Selected } from './loader.js';
import type { CaseOutcome, RunSettings } from './outcome.js';
import { runSessionCase } from './session-case.js';
import { runValidatorCase, validatorCommand, type ValidatorCommands, type ValidatorDetail } from './validator-case.js';

export interface RunnerConfig {
  readonly settings: RunSettings;
  /** Runs a session: must contain {manifest}. */
  readonly impl: CommandTemplate;
  /** Run the validator cases; undefined when the implementation has no validator command. */
  readonly validate: ValidatorCommands | undefined;
  readonly validatorDetail: ValidatorDetail;
  /** Cases run at the same time. */
  readonly jobs: number;
  /** Called once per case, in case order. */
  readonly onOutcome?: (outcome: CaseOutcome) => void;
}

function weight(c: ConformanceCase): number {
  if (c.kind === 'validator') return 1;
  const waits = c.expect.report?.exitState?.kind === 'timeout' ? 20 : 1;
  return waits * c.runs * (c.kind === 'session' ? 2 : 1);
}

async function runOne(selected: Selected, config: RunnerConfig): Promise<CaseOutcome> {
  const c = selected.case;
  if (selected.skip !== undefined) return { case: c, status: 'skip', differences: [], skipReason: selected.skip, milliseconds: 0 };
  if (c.kind === 'session') return runSessionCase(c, config.impl, config.settings);
  const command = config.validate === undefined ? 'no validator command' : validatorCommand(config.validate, c);
  if (typeof command === 'string') return { case: c, status: 'skip', differences: [], skipReason: command, milliseconds: 0 };
  return runValidatorCase(c, command, config.validatorDetail, config.settings);
}

/** Runs every selected case; resolves with the outcomes in case order. */
export async function runCases(selection: readonly Selected[], config: RunnerConfig): Promise<CaseOutcome[]> {
  const outcomes: (CaseOutcome | undefined)[] = new Array(selection.length).fill(undefined);
  const order = selection.map((_, i) => i).sort((a, b) => weight((selection[b] as Selected).case) - weight((selection[a] as Selected).case) || a - b);
  let nextToStart = 0;
  let nextToReport = 0;
  const report = (): void => {
    while (nextToReport < outcomes.length && outcomes[nextToReport] !== undefined) {
      config.onOutcome?.(outcomes[nextToReport] as CaseOutcome);
      nextToReport++;
    }
  };
  const worker = async (): Promise<void> => {
    while (nextToStart < order.length) {
      const index = order[nextToStart++] as number;
      outcomes[index] = await runOne(selection[index] as Selected, config);
      report();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(config.jobs, selection.length)) }, worker));
  report();
  return outcomes as CaseOutcome[];
}
