/*
 * The compute benchmark's host baseline: examples/loop.S's loop as a plain
 * host program. The loop is the nexe's own four instructions (inline asm,
 * so the compiler can neither fold nor vectorise it); ITERATIONS comes from
 * loop.S on the command line (-DITERATIONS=...). Prints the same line.
 */
#include <stdint.h>
#include <stdio.h>

int main(void) {
  uint64_t x = 0;
  uint32_t n = ITERATIONS;
  const uint64_t a = 6364136223846793005ull, c = 1442695040888963407ull;
  __asm__ volatile(
      ".p2align 5\n"
      "1:\n\t"
      "imul %[a], %[x]\n\t"
      "add %[c], %[x]\n\t"
      "dec %[n]\n\t"
      "jnz 1b"
      : [x] "+r"(x), [n] "+r"(n)
      : [a] "r"(a), [c] "r"(c));
  printf("%016llx\n", (unsigned long long)x);
  return 0;
}
