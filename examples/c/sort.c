/* Reads whitespace-separated numbers from stdin, sorts them with qsort, prints them and their sum and mean. */
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(void) {
  size_t n = 0, cap = 16;
  double *v = malloc(cap * sizeof *v), x, sum = 0;
  while (scanf("%lf", &x) == 1) {
    if (n == cap) v = realloc(v, (cap *= 2) * sizeof *v);
    v[n++] = x;
    sum += x;
  }
  qsort(v, n, sizeof *v, compare);
  for (size_t i = 0; i < n; i++) printf("%g\n", v[i]);
  printf("count %zu sum %.6f mean %.6f\n", n, sum, n ? sum / n : 0.0);
  free(v);
  return 0;
}
