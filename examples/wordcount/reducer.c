/*
 * Word count, reduce stage: reads "WORD COUNT\n" lines from every mapper
 * (/dev/in/map-1, /dev/in/map-2, ... until one does not exist: the job
 * gives one channel per connected mapper), adds them up and writes
 * "WORD COUNT\n" for every word, sorted by word, to stdout.
 *
 * A first argument replaces the name pattern "/dev/in/map-%d" (the host
 * build of bench/wordcount.bench.ts reads FIFOs).
 *
 * Reading the mappers one after another is safe: each pipe blocks its
 * writer only until this reader gets to it, and every mapper ends.
 *
 * Build: zerovm cc -O2 -o reducer.nexe reducer.c   (examples/wordcount/README.md)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORD 64
#define SLOTS (1 << 17)

struct entry {
  char word[MAX_WORD];
  long count;
};

static struct entry table[SLOTS];
static int used;

static unsigned long hash(const char *s) {
  unsigned long h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

static int add(const char *word, long count) {
  unsigned long i = hash(word) & (SLOTS - 1);
  for (unsigned long probes = 0; probes < SLOTS; probes++, i = (i + 1) & (SLOTS - 1)) {
    if (table[i].count == 0) {
      strcpy(table[i].word, word);
      table[i].count = count;
      used++;
      return 0;
    }
    if (strcmp(table[i].word, word) == 0) {
      table[i].count += count;
      return 0;
    }
  }
  return -1;
}

static int by_word(const void *a, const void *b) {
  return strcmp(((const struct entry *)a)->word, ((const struct entry *)b)->word);
}

int main(int argc, char **argv) {
  const char *pattern = argc > 1 ? argv[1] : "/dev/in/map-%d";
  int mappers = 0;
  for (int n = 1;; n++) {
    char name[256];
    snprintf(name, sizeof name, pattern, n);
    FILE *in = fopen(name, "r");
    if (in == NULL) break;
    mappers++;
    char word[MAX_WORD];
    long count;
    while (fscanf(in, "%63s %ld", word, &count) == 2) {
      if (add(word, count) != 0) {
        fprintf(stderr, "reducer: more than %d distinct words\n", SLOTS);
        return 3;
      }
    }
    fclose(in);
  }
  if (mappers == 0) {
    fprintf(stderr, "reducer: no /dev/in/map-1 (connect the mappers to this node)\n");
    return 2;
  }
  /* pack the used slots to the front, then sort them */
  int packed = 0;
  for (int i = 0; i < SLOTS; i++)
    if (table[i].count > 0) table[packed++] = table[i];
  qsort(table, packed, sizeof table[0], by_word);
  for (int i = 0; i < packed; i++) printf("%s %ld\n", table[i].word, table[i].count);
  fprintf(stderr, "reducer: %d words from %d mappers\n", used, mappers);
  return 0;
}
