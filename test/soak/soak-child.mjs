// The soak test's child process (test/soak.test.ts): runs hello sessions
// through the package's embedding API (dist/, built by the test setup) on
// one engine and prints one JSON line: process resources after a warm-up,
// halfway through the measured sessions and after them, each taken after a
// full garbage collection, and the time the measured sessions took.
//
// It lets the event loop turn every 100 sessions, as a server does: Node
// runs the finalizers of the addons' wrapped objects from the event loop,
// so a loop that never yields keeps a few hundred bytes per session.
//
//   node --expose-gc --min-semi-space-size=16 --max-semi-space-size=16 test/soak/soak-child.mjs ENGINE SESSIONS WARMUP
import { readdirSync, readFileSync } from 'node:fs';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Program } from '../../dist/api/index.js';

const [engine, sessionsArg, warmupArg] = process.argv.slice(2);
const sessions = Number(sessionsArg);
const warmup = Number(warmupArg);
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');

const hello = Program.load(fileURLToPath(new URL('../../examples/hello.nexe', import.meta.url)), { engine });

function runOne(i) {
  const outcome = hello.runSync({ engine });
  const stdout = outcome.stdout.toString();
  if (!outcome.ok || stdout !== 'hello, world\n') {
    throw new Error(`session ${i} on ${engine}: exit state ${outcome.exitState}, stdout ${JSON.stringify(stdout)}`);
  }
}

/** Mappings of 4 GiB or more: sandbox reservations (and the native engine's guard areas). */
function sandboxMappings(maps) {
  return maps.filter((line) => {
    const match = /^([0-9a-f]+)-([0-9a-f]+)/.exec(line);
    return match !== null && BigInt(`0x${match[2]}`) - BigInt(`0x${match[1]}`) >= 2n ** 32n;
  }).length;
}

/*
 * V8 returns the pages a collection freed on a background thread (its
 * unmapper), so a count read right after gc() may still hold some: under
 * load that was 30-40 mappings of noise. A pause and a second collection
 * let it finish.
 */
async function sample() {
  globalThis.gc();
  await sleep(100);
  globalThis.gc();
  await sleep(100);
  const maps = readFileSync('/proc/self/maps', 'utf8').trim().split('\n');
  return {
    rss: process.memoryUsage.rss(),
    fds: readdirSync('/proc/self/fd').length,
    threads: readdirSync('/proc/self/task').length,
    maps: maps.length,
    sandboxes: sandboxMappings(maps),
  };
}

async function run(first, count) {
  for (let i = first; i < first + count; i++) {
    runOne(i);
    if (i % 100 === 99) await turn();
  }
  await turn();
}

await run(0, warmup);
const before = await sample();
const began = performance.now();
const half = Math.floor(sessions / 2);
await run(warmup, half);
const middle = await sample();
await run(warmup + half, sessions - half);
const ms = performance.now() - began;
const after = await sample();
process.stdout.write(`${JSON.stringify({ engine, sessions, warmup, ms, before, middle, after })}\n`);
