/*
 * jail: the C twin of examples/jail.S. Writes a tiny function into a
 * 64 KiB heap block, makes it executable with TrapJail (zvm_jail, which
 * validates it first), calls it and prints its result, "42". Exit code 1
 * when the runtime refuses the block.
 */
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <zerovm.h>

enum { BLOCK = 0x10000 };

/* One bundle: mov $42,%eax, then the sandboxed return (pop %r11; and $-32,%r11d;
 * add %r15,%r11; jmp *%r11), then hlt to the bundle's end. */
static const unsigned char function[32] = {
    0xb8, 0x2a, 0x00, 0x00, 0x00, 0x41, 0x5b, 0x41, 0x83, 0xe3, 0xe0, 0x4d, 0x01, 0xfb, 0x41, 0xff,
    0xe3, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4, 0xf4,
};

int main(void) {
  /* A whole heap block, never freed: once jailed it is not writable. */
  unsigned char *block = memalign(BLOCK, BLOCK);
  if (!block) return 1;
  memset(block, 0xf4, BLOCK); /* the whole block is validated: hlt everywhere else */
  memcpy(block, function, sizeof function);
  int32_t refused = zvm_jail(block, BLOCK);
  if (refused) {
    fprintf(stderr, "jail: TrapJail refused the block (%d)\n", (int)refused);
    return 1;
  }
  int (*jailed)(void) = (int (*)(void))(void *)block;
  printf("%d\n", jailed());
  return 0;
}
