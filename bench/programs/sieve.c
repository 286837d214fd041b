/*
 * The sieve benchmark's host twin: the computation of sieve.S (N, PASSES
 * from the command line: -DN=... -DPASSES=...), printed the same way.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static unsigned char sieve[N];

int main(void) {
  uint64_t primes = 0;
  for (int pass = 0; pass < PASSES; pass++) {
    memset(sieve, 0, sizeof sieve);
    for (uint64_t i = 2; i < N; i++) {
      if (sieve[i] != 0) continue;
      primes++;
      for (uint64_t j = i * i; j < N; j += i) sieve[j] = 1;
    }
  }
  printf("%016llx\n", (unsigned long long)primes);
  return 0;
}
