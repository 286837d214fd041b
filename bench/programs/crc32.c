/*
 * The crc32 benchmark's host twin: the computation of crc32.S (LENGTH,
 * ROUNDS from the command line), printed the same way.
 */
#include <stdint.h>
#include <stdio.h>

static uint32_t table[256];
static uint8_t buffer[LENGTH];

int main(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    table[n] = c;
  }
  uint32_t x = 1;
  for (uint32_t i = 0; i < LENGTH; i++) {
    x = x * 1103515245u + 12345u;
    buffer[i] = (uint8_t)(x >> 24);
  }
  uint32_t crc = 0xffffffffu;
  for (int round = 0; round < ROUNDS; round++) {
    for (uint32_t i = 0; i < LENGTH; i++) crc = table[(crc ^ buffer[i]) & 0xff] ^ (crc >> 8);
  }
  printf("%016llx\n", (unsigned long long)(uint32_t)~crc);
  return 0;
}
