/* Sieve of Eratosthenes: counts the primes below N (argv[1], default 1000000) and prints the last ten. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], 0, 10) : 1000000;
  if (n < 2) n = 2;
  char *composite = calloc((size_t)n, 1);
  long count = 0;
  for (long i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    if (i > (n - 1) / i) continue; /* i * i would overflow a 32-bit long (ILP32) */
    for (long j = i * i; j < n; j += i) composite[j] = 1;
  }
  printf("%ld primes below %ld:", count, n);
  long shown = 0;
  for (long i = n - 1; i >= 2 && shown < 10; i--)
    if (!composite[i]) {
      printf(" %ld", i);
      shown++;
    }
  printf("\n");
  free(composite);
  return 0;
}
