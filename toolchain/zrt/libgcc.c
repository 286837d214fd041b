/*
 * The few libgcc helpers gcc calls for x86-64 code when no instruction does
 * the job at the baseline ISA (popcount without POPCNT, 128-bit division,
 * integer powers). Debian's x32 libgcc.a cannot be linked: its objects are
 * ELF32 and were never sandboxed. Written without the corresponding
 * builtins, which would call these functions again.
 */
#include <stdint.h>

int __popcountsi2(uint32_t x) {
  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return (int)((x * 0x01010101u) >> 24);
}

int __popcountdi2(uint64_t x) { return __popcountsi2((uint32_t)x) + __popcountsi2((uint32_t)(x >> 32)); }

int __paritysi2(uint32_t x) { return __popcountsi2(x) & 1; }
int __paritydi2(uint64_t x) { return __popcountdi2(x) & 1; }

int __clzdi2(uint64_t x) {
  int n = 0;
  if (x == 0) return 64;
  while (!(x & (1ull << 63))) x <<= 1, n++;
  return n;
}

int __ctzdi2(uint64_t x) {
  int n = 0;
  if (x == 0) return 64;
  while (!(x & 1)) x >>= 1, n++;
  return n;
}

int __ffsdi2(uint64_t x) { return x == 0 ? 0 : __ctzdi2(x) + 1; }

double __powidf2(double x, int n) {
  unsigned m = n < 0 ? -(unsigned)n : (unsigned)n;
  double r = (m & 1) ? x : 1.0;
  while (m >>= 1) {
    x *= x;
    if (m & 1) r *= x;
  }
  return n < 0 ? 1.0 / r : r;
}

float __powisf2(float x, int n) { return (float)__powidf2(x, n); }

typedef unsigned __int128 u128;
typedef __int128 i128;

/* Shift-and-subtract long division: slow but simple and exact. */
static u128 udivmod(u128 n, u128 d, u128 *rem) {
  u128 q = 0, r = 0;
  if (d == 0) {
    volatile int zero = 0;
    return (u128)(1 / zero); /* divide by zero traps like the hardware would */
  }
  for (int i = 127; i >= 0; i--) {
    r = (r << 1) | ((n >> i) & 1);
    if (r >= d) r -= d, q |= (u128)1 << i;
  }
  if (rem) *rem = r;
  return q;
}

u128 __udivti3(u128 n, u128 d) { return udivmod(n, d, 0); }

u128 __umodti3(u128 n, u128 d) {
  u128 r;
  udivmod(n, d, &r);
  return r;
}

i128 __divti3(i128 n, i128 d) {
  int neg = (n < 0) != (d < 0);
  u128 q = udivmod(n < 0 ? -(u128)n : (u128)n, d < 0 ? -(u128)d : (u128)d, 0);
  return neg ? -(i128)q : (i128)q;
}

i128 __modti3(i128 n, i128 d) {
  u128 r;
  udivmod(n < 0 ? -(u128)n : (u128)n, d < 0 ? -(u128)d : (u128)d, &r);
  return n < 0 ? -(i128)r : (i128)r;
}
