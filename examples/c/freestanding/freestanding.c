/*
 * A ZeroVM program with nothing of the C library: its own trap wrapper
 * (inline assembly calling the trampoline's slot at 0x10000), its own
 * output buffer and its own printf. start.S is its entry. Built by
 *   zerovm cc -O2 -mno-red-zone -ffreestanding -nostdlib -nostartfiles -o freestanding.nexe start.S freestanding.c
 * It reads standard input, prints what it read (length, a checksum, the
 * text), a line of every printf conversion it knows, and exits with 7.
 */
#include <stdarg.h>
#include <stdint.h>

/* ZeroVM's trap functions (spec/runtime.md "The trap"): their names' ASCII, little-endian. */
#define TRAP_READ 0x64616552u
#define TRAP_WRITE 0x74697257u
#define TRAP_EXIT 0x74697845u

/*
 * The trap: %rdi holds the 32-bit address of [function, 0, arg0..arg3] and
 * the call goes to the trampoline at 0x10000. It keeps %rbx, %rbp, %r12-%r14
 * and %rsp, as a C function would; everything else a callee may clobber
 * (%rdi and the target register too: both are in-out operands) is declared
 * clobbered here. The call pushes its return address below %rsp, where
 * gcc's red zone would be: the program is built with -mno-red-zone.
 */
static int32_t trap(uint32_t function, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  uint64_t block[6] = {function, 0, a0, a1, a2, a3};
  uint64_t *argument = block;
  int32_t result;
  uint64_t target = 0x10000;
  __asm__ volatile("call *%[target]"
                   : "=a"(result), [target] "+r"(target), "+D"(argument)
                   :
                   : "rcx", "rdx", "rsi", "r8", "r9", "r10", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                     "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  return result;
}

/* gcc may call these even in freestanding code (structure copies, zeroing). */
void *memset(void *s, int c, unsigned long n) {
  unsigned char *p = s;
  while (n-- > 0) *p++ = (unsigned char)c;
  return s;
}

void *memcpy(void *d, const void *s, unsigned long n) {
  unsigned char *q = d;
  const unsigned char *p = s;
  while (n-- > 0) *q++ = *p++;
  return d;
}

static char out[256];
static unsigned used;

static void flush(void) {
  if (used > 0) trap(TRAP_WRITE, 1, (uint64_t)(uintptr_t)out, used, 0);
  used = 0;
}

static void put(char c) {
  if (used == sizeof out) flush();
  out[used++] = c;
}

static void put_unsigned(uint64_t v, unsigned base, int width, char pad) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v > 0);
  for (; width > n; width--) put(pad);
  while (n > 0) put(digits[--n]);
}

/* %d %u %x %c %s %% with an optional zero flag and width, and the l modifier. */
static void tiny_printf(const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  for (const char *f = format; *f; f++) {
    if (*f != '%') {
      put(*f);
      continue;
    }
    char pad = ' ';
    int width = 0, is_long = 0;
    if (*++f == '0') pad = '0', f++;
    while (*f >= '0' && *f <= '9') width = width * 10 + (*f++ - '0');
    if (*f == 'l') is_long = 1, f++;
    switch (*f) {
    case 'd': {
      int64_t v = is_long ? va_arg(ap, int64_t) : va_arg(ap, int);
      if (v < 0) put('-');
      put_unsigned(v < 0 ? -(uint64_t)v : (uint64_t)v, 10, v < 0 ? width - 1 : width, pad);
      break;
    }
    case 'u':
      put_unsigned(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, pad);
      break;
    case 'x':
      put_unsigned(is_long ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, pad);
      break;
    case 'c':
      put((char)va_arg(ap, int));
      break;
    case 's':
      for (const char *s = va_arg(ap, const char *); *s; s++) put(*s);
      break;
    case '%':
      put('%');
      break;
    default:
      put('?');
      break;
    }
  }
  va_end(ap);
}

void exit_session(int code) {
  flush();
  for (;;) trap(TRAP_EXIT, (uint64_t)(uint32_t)code, 0, 0, 0);
}

static char input[4096];

int main(void) {
  int32_t length = trap(TRAP_READ, 0, (uint64_t)(uintptr_t)input, sizeof input - 1, 0);
  if (length < 0) length = 0;
  input[length] = 0;
  uint32_t sum = 0;
  for (int32_t i = 0; i < length; i++) sum = sum * 31 + (unsigned char)input[i];
  tiny_printf("freestanding: %d bytes in, checksum %08x\n", length, sum);
  tiny_printf("[%s]\n", input);
  tiny_printf("%d %d %u %x %c %% %5d|%03d %ld %lx\n", -42, -2147483647 - 1, 4294967295u, 0xbeefu, 'z', 31, 7, (int64_t)-1234567890123, (uint64_t)0xfedcba9876543210u);
  return 7;
}
