/*
 * cat: copies each file named on the command line ("-" or none: standard
 * input) to standard output. Under ZeroVM the files are a zapp's or an
 * --image tar's read-only files, or channels opened by alias
 * (/dev/input). The C version of examples/cat.S, which copies stdin only.
 * Exit status 1 if any file could not be read.
 */
#include <stdio.h>
#include <string.h>

static int copy(FILE *in) {
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, in)) > 0)
    if (fwrite(buffer, 1, n, stdout) != n) return -1;
  return ferror(in) ? -1 : 0;
}

int main(int argc, char **argv) {
  int status = 0;
  if (argc < 2) return copy(stdin) == 0 ? 0 : 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-") == 0) {
      if (copy(stdin) != 0) status = 1;
      continue;
    }
    FILE *f = fopen(argv[i], "rb");
    if (f == NULL) {
      fflush(stdout);
      fprintf(stderr, "cat: %s: cannot open\n", argv[i]);
      status = 1;
      continue;
    }
    if (copy(f) != 0) status = 1;
    fclose(f);
  }
  return status;
}
