/**
 * Whether a command line may run a program without validating it
 * (`zerovm -s MANIFEST`, `zerovm run --skip-validation`), the rule of
 * spec/runtime.md, "Command lines".
 *
 * Validation is what keeps a program inside its sandbox on the native
 * engine: the processor runs its instructions directly, in this process, so
 * unvalidated code can do anything this process can (a `syscall`, a jump out
 * of the sandbox). The Unicorn engine emulates every instruction and maps
 * only the sandbox into the emulator, so there unvalidated code cannot reach
 * the host. Hence: allowed on Unicorn; on native only with an explicit
 * `--unsafe`, and then with a warning.
 *
 * Pipeline position: the embedding API (program.ts) and the CLI
 * (session-command.ts, run-command.ts), after the engine
 * is chosen and before the session starts.
 */
import type { Engine } from '../runtime/engine.js';

/** The option a user spells out to run unvalidated code on the native engine. */
export const UNSAFE_FLAG = '--unsafe';

export type UnvalidatedRun =
  | { readonly allowed: false; readonly message: string }
  | { readonly allowed: true; readonly warning: string | null };

/**
 * The verdict for running unvalidated code on `engine`: `skipFlag` is the
 * option the user gave (`-s`, `--skip-validation`), `unsafe` whether
 * `--unsafe` was given too.
 */
export function unvalidatedRun(engine: Pick<Engine, 'name'>, skipFlag: string, unsafe: boolean): UnvalidatedRun {
  if (engine.name !== 'native') return { allowed: true, warning: null };
  if (!unsafe) {
    return {
      allowed: false,
      message:
        `${skipFlag} refused on the native engine: it would run the program unvalidated, directly on this host with this process's rights. ` +
        `Add ${UNSAFE_FLAG} to do so anyway (only for code you trust), or run it emulated with --engine unicorn`,
    };
  }
  return {
    allowed: true,
    warning: `warning: ${skipFlag} ${UNSAFE_FLAG}: the program runs unvalidated on the native engine; nothing keeps it inside its sandbox`,
  };
}
