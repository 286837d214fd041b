/* A program with an expensive set-up (bench/warm-start.bench.ts): it fills
 * a 4 MiB table (about 50 ms natively), calls zvm_fork (TrapFork: with a
 * Job, or Program.fork, each request starts here), then serves one
 * request: reads stdin and writes "<fork result> <checksum> <input>". */
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zerovm.h>

static uint32_t table[1 << 20];

int main(void) {
  /* set-up: fill a 4 MiB table, many passes (about 50 ms natively) */
  uint32_t x = 1;
  for (int pass = 0; pass < 40; pass++)
    for (uint32_t i = 0; i < (1u << 20); i++) { x = x * 1103515245u + 12345u; table[i] ^= x; }
  int32_t forked = zvm_fork();
  char buf[4096];
  ssize_t n = read(0, buf, sizeof buf);
  if (n < 0) n = 0;
  uint32_t sum = 0;
  for (ssize_t i = 0; i < n; i++) sum += table[(unsigned char)buf[i] * 4096u];
  printf("%d %u %.*s", forked, sum, (int)n, buf);
  return 7;
}
