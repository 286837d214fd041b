/*
 * loop: a pure compute loop, the C twin of examples/loop.S. ITERATIONS
 * steps (argv[1], default 800 000 000) of the 64-bit LCG
 * x = x * 6364136223846793005 + 1442695040888963407 from x = 0, then the
 * final x as 16 lowercase hex digits and a newline. Builds natively too
 * (`make CC=gcc EXT=`), which is the comparison the compute benchmark makes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  uint32_t iterations = argc > 1 ? (uint32_t)strtoul(argv[1], 0, 10) : 800000000u;
  uint64_t x = 0;
  for (uint32_t i = 0; i < iterations; i++) x = x * 6364136223846793005u + 1442695040888963407u;
  printf("%016" PRIx64 "\n", x);
  return 0;
}
