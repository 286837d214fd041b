/*
 * The fib benchmark's host twin: the computation of fib.S (N from the
 * command line), printed the same way. The empty asm keeps the sum opaque,
 * so that GCC cannot turn the second call into a loop with an accumulator
 * (its tail-recursion pass would): the host binary makes the same calls as
 * the nexe.
 */
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) static uint64_t fib(uint32_t n) {
  if (n < 2) return n;
  uint64_t sum = fib(n - 1) + fib(n - 2);
  __asm__("" : "+r"(sum));
  return sum;
}

int main(void) {
  printf("%016llx\n", (unsigned long long)fib(N));
  return 0;
}
