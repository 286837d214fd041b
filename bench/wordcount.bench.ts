/**
 * Word count benchmark: `npx tsx bench/wordcount.bench.ts` (the server
 * runs from dist/: `npm run build` first; needs zerovm cc and gcc).
 *
 * examples/wordcount over OBJECTS text objects (about 64 KB each): the job
 * (examples/wordcount/job.json: a mapper per object piped into one
 * reducer) POSTed to `zerovm serve --workers 2`, against the same C
 * sources built by the host's gcc and run as host processes, the mappers
 * writing FIFOs the reducer reads. Median of RUNS after one warm-up each;
 * both results must be equal.
 *
 * Knobs: ZEROVM_BENCH_WC_OBJECTS (default 20), ZEROVM_BENCH_WC_RUNS (default 3).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((dir) => existsSync(join(dir, 'examples', 'wordcount', 'job.json')))!;
const OBJECTS = Number(process.env.ZEROVM_BENCH_WC_OBJECTS ?? 20) || 20;
const RUNS = Number(process.env.ZEROVM_BENCH_WC_RUNS ?? 3) || 3;
const SOURCES = join(ROOT, 'examples', 'wordcount');

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Deterministic text: words from a small vocabulary, chosen by an LCG. */
function text(seed: number, bytes: number): string {
  const words = ['zero', 'vm', 'sandbox', 'channel', 'trap', 'nexe', 'validator', 'bundle', 'job', 'pipe', 'map', 'reduce', 'object', 'swift', 'cloud'];
  let x = seed;
  let out = '';
  while (out.length < bytes) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out += words[x % words.length]! + (x % 11 === 0 ? '\n' : ' ');
  }
  return out;
}

async function host(dir: string, inputs: readonly string[]): Promise<{ ms: number; out: string }> {
  const fifos = join(dir, `fifos-${Math.random().toString(36).slice(2)}`);
  mkdirSync(fifos);
  for (let i = 1; i <= inputs.length; i++) execFileSync('mkfifo', [join(fifos, `map-${i}`)]);
  const started = performance.now();
  const reducer = spawn(join(dir, 'reducer.host'), [join(fifos, 'map-%d')], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  reducer.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const mappers = inputs.map((input, i) => {
    const child = spawn(join(dir, 'mapper.host'), [join(fifos, `map-${i + 1}`)], { stdio: ['pipe', 'ignore', 'inherit'] });
    createReadStream(input).pipe(child.stdin);
    return new Promise((r) => child.once('exit', r));
  });
  await Promise.all([...mappers, new Promise((r) => reducer.once('exit', r))]);
  const ms = performance.now() - started;
  rmSync(fifos, { recursive: true, force: true });
  return { ms, out };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'zerovm-bench-wc-'));
  const server = spawn(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'serve', '--port', '0', '--store', join(dir, 'store'), '--workers', '2'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    for (const program of ['mapper', 'reducer']) {
      execFileSync(process.execPath, [join(ROOT, 'bin', 'zerovm.js'), 'cc', '-O2', '-o', join(dir, `${program}.nexe`), join(SOURCES, `${program}.c`)]);
      execFileSync('gcc', ['-O2', '-o', join(dir, `${program}.host`), join(SOURCES, `${program}.c`)]);
    }
    const inputs: string[] = [];
    for (let i = 1; i <= OBJECTS; i++) {
      const path = join(dir, `book${i}.txt`);
      writeFileSync(path, text(i, 64 * 1024));
      inputs.push(path);
    }
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      server.once('exit', (code) => reject(new Error(`zerovm serve exited ${code}`)));
    });
    const base = `${url}/v1/bench`;
    for (const c of ['wordcount', 'books']) await fetch(`${base}/${c}`, { method: 'PUT' });
    for (const p of ['mapper', 'reducer']) await fetch(`${base}/wordcount/${p}.nexe`, { method: 'PUT', body: readFileSync(join(dir, `${p}.nexe`)) });
    for (let i = 1; i <= OBJECTS; i++) await fetch(`${base}/books/book${i}.txt`, { method: 'PUT', body: readFileSync(inputs[i - 1]!) });
    const job = readFileSync(join(SOURCES, 'job.json'));
    const served: number[] = [];
    let servedOut = '';
    for (let run = 0; run <= RUNS; run++) {
      const started = performance.now();
      const res = await fetch(base, { method: 'POST', headers: { 'X-Zerovm-Execute': '1.0', 'Content-Type': 'application/json' }, body: job });
      servedOut = await res.text();
      if (res.headers.get('x-nexe-status') !== Array(OBJECTS + 1).fill('ok').join(',')) throw new Error(`the job failed: ${res.headers.get('x-nexe-status')} ${res.headers.get('x-nexe-error')}`);
      if (run > 0) served.push(performance.now() - started);
    }
    const hosted: number[] = [];
    let hostOut = '';
    for (let run = 0; run <= RUNS; run++) {
      const r = await host(dir, inputs);
      hostOut = r.out;
      if (run > 0) hosted.push(r.ms);
    }
    if (hostOut !== servedOut) throw new Error('the served and host word counts differ');
    const s = median(served);
    const h = median(hosted);
    console.log(`word count over ${OBJECTS} objects of 64 KB (${OBJECTS} mappers piped into 1 reducer):`);
    console.log(`  zerovm serve --workers 2: ${s.toFixed(0)} ms; host processes and FIFOs: ${h.toFixed(0)} ms; ratio ${(s / h).toFixed(2)}`);
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
