/*
 * Word count, map stage: counts the words of its input (stdin: one text
 * object; a word is a run of letters and digits, folded to lower case)
 * and sends "WORD COUNT\n" lines to the reducer through the channel
 * /dev/out/reduce, which the job's "connect" gives it (or through the
 * file its first argument names: bench/wordcount.bench.ts runs the same
 * source as a host process writing a FIFO).
 *
 * Build: zerovm cc -O2 -o mapper.nexe mapper.c   (examples/wordcount/README.md)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORD 64
#define SLOTS (1 << 16)

struct entry {
  char word[MAX_WORD];
  long count;
};

static struct entry table[SLOTS];

static unsigned long hash(const char *s) {
  unsigned long h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

static int add(const char *word) {
  unsigned long i = hash(word) & (SLOTS - 1);
  for (unsigned long probes = 0; probes < SLOTS; probes++, i = (i + 1) & (SLOTS - 1)) {
    if (table[i].count == 0) {
      strcpy(table[i].word, word);
      table[i].count = 1;
      return 0;
    }
    if (strcmp(table[i].word, word) == 0) {
      table[i].count++;
      return 0;
    }
  }
  return -1;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/dev/out/reduce";
  FILE *out = fopen(path, "w");
  if (out == NULL) {
    fprintf(stderr, "mapper: cannot open %s (is the job's connect missing?)\n", path);
    return 2;
  }
  char word[MAX_WORD];
  size_t length = 0;
  int c;
  do {
    c = getchar();
    if (c != EOF && isalnum(c)) {
      if (length < MAX_WORD - 1) word[length++] = (char)tolower(c);
    } else if (length > 0) {
      word[length] = '\0';
      length = 0;
      if (add(word) != 0) {
        fprintf(stderr, "mapper: more than %d distinct words\n", SLOTS);
        return 3;
      }
    }
  } while (c != EOF);
  for (int i = 0; i < SLOTS; i++)
    if (table[i].count > 0) fprintf(out, "%s %ld\n", table[i].word, table[i].count);
  return fclose(out) == 0 ? 0 : 4;
}
