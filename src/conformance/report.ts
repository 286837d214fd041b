/**
 * Reading the report an implementation printed on stdout: the seven
 * fields of spec/runtime.md "The report and exit codes", each followed by the separator of its mode: "\n" (-t 0, the
 * default) or "; " (-t 1).
 *
 * Pipeline position: session-case.ts runs the implementation -> here ->
 * compare.ts checks the fields against the case.
 */

export interface ParsedReport {
  readonly validatorState: string;
  readonly daemonState: string;
  readonly userReturnCode: string;
  readonly etags: string;
  readonly accounting: string;
  readonly exitState: string;
}

export const REPORT_FIELDS: readonly (keyof ParsedReport)[] = ['validatorState', 'daemonState', 'userReturnCode', 'etags', 'accounting', 'exitState'];

/** The report's separator for the case's command-line options (-t 1 / -t1 selects "; "). */
export function reportSeparator(options: readonly string[]): string {
  for (let i = 0; i < options.length; i++) {
    const option = options[i] as string;
    if (option === '-t') return options[i + 1] === '1' ? '; ' : '\n';
    if (/^-[sFPQ]*t1$/.test(option)) return '; ';
  }
  return '\n';
}

/** The six meaningful fields, or a message saying why the text is not a report. */
export function parseReport(stdout: string, separator: string): ParsedReport | string {
  if (stdout.length === 0) return 'nothing on stdout (no report)';
  const fields = stdout.split(separator);
  if (fields.length < 7) return `the report has ${fields.length} fields separated by ${JSON.stringify(separator)}; expected 7`;
  const [validatorState, daemonState, userReturnCode, etags, accounting, exitState] = fields as [string, string, string, string, string, string];
  return { validatorState, daemonState, userReturnCode, etags, accounting, exitState };
}
