/**
 * Jobs of C programs built with `zerovm cc`, connected by pipes through the
 * worker-thread pool (spec/serving.md, "Executing jobs"): the C library's
 * stdio over pipe channels (buffered writes, reads that return what is
 * there, the end of data when the writer ends), a pipe channel opened by
 * alias (/dev/in/NAME), fstat() saying FIFO (the nvram's 'pipe' mapping),
 * and errno EPIPE for a writer whose reader has gone. Every case runs on
 * both engines.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeResult } from '../src/jobs/executor.js';
import { WorkerPoolExecutor } from '../src/jobs/pool.js';
import { engineCases } from './engine-matrix.js';
import { warnIfSkipped, zerovmCc } from './toolchain/helpers.js';

const skip = warnIfSkipped('C pipelines through the job executor');
const engines = engineCases('C pipelines through the job executor');

const SOURCES: Record<string, string> = {
  /* N lines on stdout; says on stderr whether stdout is a FIFO */
  'gen.c': `#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
  struct stat st;
  fstat(1, &st);
  fprintf(stderr, "stdout fifo=%d\\n", S_ISFIFO(st.st_mode) ? 1 : 0);
  int n = atoi(argv[1]);
  for (int i = 0; i < n; i++) printf("line %d of the generator\\n", i);
  return 0;
}
`,
  /* stdin to stdout, upper-cased, line by line */
  'upper.c': `#include <ctype.h>
#include <stdio.h>
int main(void) {
  char line[256];
  while (fgets(line, sizeof line, stdin) != NULL) {
    for (char *p = line; *p; p++) *p = (char)toupper((unsigned char)*p);
    fputs(line, stdout);
  }
  return 0;
}
`,
  /* counts the lines and bytes of the channel named on its command line */
  'count.c': `#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
  FILE *in = fopen(argv[1], "r");
  if (in == NULL) { printf("cannot open %s\\n", argv[1]); return 2; }
  long lines = 0, bytes = 0, upper = 0;
  int c;
  while ((c = fgetc(in)) != EOF) { bytes++; if (c == '\\n') lines++; if (c >= 'A' && c <= 'Z') upper++; }
  printf("%ld lines, %ld bytes, %ld capitals\\n", lines, bytes, upper);
  return 0;
}
`,
  /* writes until a write fails; prints the errno */
  'flood.c': `#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  static char block[4096];
  memset(block, 'x', sizeof block);
  for (long total = 0;; total += sizeof block) {
    if (write(1, block, sizeof block) < 0) {
      fprintf(stderr, "write failed after %s bytes went through: errno %d\\n", total > 0 ? "some" : "no", errno);
      return errno == EPIPE ? 3 : 4;
    }
  }
}
`,
  /* reads 10 bytes of stdin and ends */
  'head.c': `#include <unistd.h>
int main(void) {
  char b[10];
  int got = 0;
  while (got < 10) { int n = read(0, b + got, 10 - got); if (n <= 0) break; got += n; }
  write(1, b, got);
  return 0;
}
`,
};

describe.skipIf(skip)('C pipelines through the job executor', () => {
  let dir = '';
  const nexe = (name: string): string => join(dir, `${name}.nexe`);
  let pool: WorkerPoolExecutor;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'zerovm-jobs-c-'));
    for (const [file, source] of Object.entries(SOURCES)) {
      writeFileSync(join(dir, file), source);
      zerovmCc(['-O2', '-o', nexe(file.replace(/\.c$/, '')), join(dir, file)]);
    }
    pool = new WorkerPoolExecutor({ workers: 2, pipeCapacity: 8192 });
  });
  afterAll(async () => {
    await pool?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const out = (n: NodeResult, alias = '/dev/stdout'): string => Buffer.from(n.outputs[alias] ?? new Uint8Array(0)).toString();

  for (const { name: engine, skip: engineSkip } of engines) {
    it.skipIf(engineSkip)(`[${engine}] gen | upper | count (the last reads /dev/in/upper): stdio over pipes, FIFO mapping`, async () => {
      const lines = 20000;
      const result = await pool.run({
        nodes: [
          { name: 'gen', program: nexe('gen'), args: [String(lines)], engine },
          { name: 'upper', program: nexe('upper'), engine },
          { name: 'count', program: nexe('count'), args: ['/dev/in/upper'], engine, channels: [{ alias: '/dev/in/upper', input: { pipe: 'upper-count' } }] },
        ].map((node) => ({ ...node, ...(node.name === 'gen' ? { stdout: { pipe: 'gen-upper' } } : {}), ...(node.name === 'upper' ? { stdin: { pipe: 'gen-upper' }, stdout: { pipe: 'upper-count' } } : {}) })),
        pipes: [
          { id: 'gen-upper', from: 'gen', to: 'upper' },
          { id: 'upper-count', from: 'upper', to: 'count' },
        ],
      });
      expect(result.nodes.map((n) => [n.exitState, n.userReturnCode])).toEqual([['ok', 0], ['ok', 0], ['ok', 0]]);
      expect(out(result.nodes[0]!, '/dev/stderr')).toBe('stdout fifo=1\n');
      let bytes = 0;
      let capitals = 0;
      for (let i = 0; i < lines; i++) {
        const line = `line ${i} of the generator\n`;
        bytes += line.length;
        capitals += line.replace(/[^a-z]/g, '').length;
      }
      expect(out(result.nodes[2]!)).toBe(`${lines} lines, ${bytes} bytes, ${capitals} capitals\n`);
    });

    it.skipIf(engineSkip)(`[${engine}] a writer whose reader has gone gets errno EPIPE`, async () => {
      const result = await pool.run({
        nodes: [
          { name: 'flood', program: nexe('flood'), engine, timeout: 20, stdout: { pipe: 'p' } },
          { name: 'head', program: nexe('head'), engine, stdin: { pipe: 'p' } },
        ],
        pipes: [{ id: 'p', from: 'flood', to: 'head' }],
      });
      expect(out(result.nodes[1]!)).toBe('xxxxxxxxxx');
      expect(result.nodes[0]!.exitState).toBe('ok');
      /* head needed the first write's bytes, so the failing write came later */
      expect(out(result.nodes[0]!, '/dev/stderr')).toBe('write failed after some bytes went through: errno 32\n');
      expect(result.nodes[0]!.userReturnCode).toBe(3);
    });
  }
});
