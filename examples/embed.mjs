// Embedding zerovm-ts: load and validate a program once, then run sessions
// from it with channels given as buffers and streams, and read the report
// as data. Run it with `node examples/embed.mjs` after `npm run build`.
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { Program, ValidationFailedError } from 'zerovm-ts';

const cat = Program.load(fileURLToPath(new URL('./cat.nexe', import.meta.url)));

// stdin from a buffer; stdout and stderr come back as buffers
const first = cat.runSync({ stdin: Buffer.from('hello from a buffer\n'), etags: true });
console.log(first.stdout.toString().trimEnd());
console.log(`exit state: ${first.exitState}, program's code: ${first.userReturnCode}, bytes written: ${first.accounting.local.putBytes}`);
console.log(`stdout etag: ${first.etags.find((e) => e.alias === '/dev/stdout').digest}`);

// stdin from a stream, stdout to a stream, with limits: no validation this time
const second = await cat.run({ stdin: Readable.from(['hello ', 'from a stream\n']), stdout: process.stdout, memory: 32 << 20, timeout: 5 });
console.log(`exit state: ${second.exitState}`);

// what stops a session from starting is a typed exception
try {
  Program.load(fileURLToPath(new URL('./unsafe.nexe', import.meta.url)));
} catch (error) {
  if (!(error instanceof ValidationFailedError)) throw error;
  console.log(`refused: ${error.errors.length} validation errors`);
}
