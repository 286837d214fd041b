/**
 * Starts the real `zerovm serve` (bin/zerovm.js, built by the global
 * set-up) on 127.0.0.1 with a port the system picks, for the end-to-end
 * tests of spec/serving.md; stops it by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT } from './cli.js';

export interface RunningServer {
  readonly url: string;
  readonly process: ChildProcess;
  /** What the server printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then waits for the exit; resolves to the exit code. */
  stop(): Promise<number | null>;
}

export async function startServer(args: readonly string[]): Promise<RunningServer> {
  const child = spawn(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`zerovm serve did not start in 30 s:\n${output}`)), 30_000);
    const check = (): void => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', check);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`zerovm serve exited (${code}) before listening:\n${output}`));
    });
  });
  return {
    url,
    process: child,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGTERM');
      return exited;
    },
  };
}

export const EXAMPLES = join(ROOT, 'examples');
