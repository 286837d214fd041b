/* Counts lines, words and bytes of stdin, like `wc`, and the most frequent byte. */
#include <ctype.h>
#include <stdio.h>

int main(void) {
  long lines = 0, words = 0, bytes = 0, freq[256] = {0};
  int c, in_word = 0;
  while ((c = getchar()) != EOF) {
    bytes++;
    freq[c]++;
    if (c == '\n') lines++;
    if (isspace(c)) in_word = 0;
    else if (!in_word) {
      in_word = 1;
      words++;
    }
  }
  int top = 0;
  for (int i = 1; i < 256; i++)
    if (freq[i] > freq[top]) top = i;
  printf("%ld %ld %ld\nmost frequent byte 0x%02x (%ld times)\n", lines, words, bytes, top, freq[top]);
  return 0;
}
