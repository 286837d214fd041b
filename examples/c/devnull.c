/*
 * devnull: 1 000 000 one-byte write()s to stdout, then exit code 0 (1 when
 * a write does not write its byte). The C twin of examples/devnull.S: each
 * write() is one TrapWrite through the C library's system-call layer, so
 * the report's accounting shows 1 000 000 puts either way, and the two
 * differ only by what the C library costs per call.
 */
#include <unistd.h>

int main(void) {
  static const char byte = '.';
  for (int i = 0; i < 1000000; i++)
    if (write(1, &byte, 1) != 1) return 1;
  return 0;
}
