/* Prints a greeting, its arguments and one environment variable: argv and the environment come from /dev/nvram. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  printf("hello, world\n");
  for (int i = 1; i < argc; i++) printf("argv[%d] = %s\n", i, argv[i]);
  const char *who = getenv("WHO");
  printf("WHO = %s\n", who ? who : "(unset)");
  return 0;
}
