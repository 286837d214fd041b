/*
 * The POSIX calls zrt answers beyond read/write (test/toolchain/posix-calls.test.ts):
 * descriptors (dup, dup2, fcntl, lseek, isatty), stat modes of channels and
 * image files, the working directory, the clock from the nvram's [time],
 * and locales. Each line is "what: result"; the test compares the whole
 * output with what the session's channels, image and nvram imply.
 *
 * Expects: /dev/data a random-access read/write channel holding "0123456789",
 * /dev/seq a sequential channel, an image with /notes.txt and /sub/deeper.txt.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *kind(mode_t m) {
  return S_ISREG(m) ? "regular" : S_ISDIR(m) ? "directory" : S_ISCHR(m) ? "char" : S_ISFIFO(m) ? "fifo" : "other";
}

static void show(const char *what, long r) {
  if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}

static void show_stat(const char *path) {
  struct stat st;
  if (stat(path, &st) < 0) printf("stat %s: %s\n", path, strerror(errno));
  else printf("stat %s: %s %ld\n", path, kind(st.st_mode), (long)st.st_size);
}

static void show_fstat(const char *what, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) printf("fstat %s: %s\n", what, strerror(errno));
  else printf("fstat %s: %s\n", what, kind(st.st_mode));
}

static void show_locale(const char *name) {
  const char *r = setlocale(LC_ALL, name);
  printf("setlocale \"%s\": %s, now %s\n", name, r ? r : "NULL", setlocale(LC_ALL, NULL));
}

int main(void) {
  /* Stat modes: the standard channels as their [mapping] says, the others by type. */
  int data = open("/dev/data", O_RDWR);
  int seq = open("/dev/seq", O_RDONLY);
  show_fstat("stdin", 0);
  show_fstat("stdout", 1);
  show_fstat("/dev/data", data);
  show_fstat("/dev/seq", seq);
  show_stat("/dev/data");
  show_stat("/notes.txt");
  show_stat("/sub");
  show_stat("/");
  show_stat("/missing");
  /* (Each call before its printf: the order in which arguments are evaluated is unspecified.) */
  errno = 0;
  int tty = isatty(0);
  printf("isatty stdin: %d %s\n", tty, strerror(errno));
  printf("isatty /dev/data: %d\n", isatty(data));
  errno = 0;
  tty = isatty(42);
  printf("isatty 42: %d %s\n", tty, strerror(errno));

  /* fcntl */
  show("F_GETFL stdin", fcntl(0, F_GETFL) & O_ACCMODE);
  show("F_GETFL stdout", fcntl(1, F_GETFL) & O_ACCMODE);
  show("F_GETFL /dev/data", fcntl(data, F_GETFL) & O_ACCMODE);
  show("F_GETFD", fcntl(data, F_GETFD));
  show("F_SETFD", fcntl(data, F_SETFD, FD_CLOEXEC));
  show("F_GETFD after", fcntl(data, F_GETFD));
  show("F_SETFL O_NONBLOCK", fcntl(data, F_SETFL, O_NONBLOCK));
  show("fcntl bad fd", fcntl(42, F_GETFL));

  /* Descriptors share the open file description. */
  show("write", write(data, "ab", 2));
  int copy = dup(data);
  show("dup", copy);
  show("F_GETFD of the dup", fcntl(copy, F_GETFD));
  show("lseek dup SEEK_CUR", lseek(copy, 0, SEEK_CUR));
  show("write dup", write(copy, "cd", 2));
  show("lseek SEEK_CUR", lseek(data, 0, SEEK_CUR));
  show("F_SETFL O_APPEND", fcntl(copy, F_SETFL, O_APPEND | O_RDWR));
  show("F_GETFL has O_APPEND", (fcntl(data, F_GETFL) & O_APPEND) != 0);
  show("lseek SEEK_SET 0", lseek(data, 0, SEEK_SET));
  show("append write", write(data, "XYZ", 3));
  show("lseek SEEK_END", lseek(data, 0, SEEK_END));
  show("F_DUPFD 20", fcntl(data, F_DUPFD, 20));
  show("close original", close(data));
  char back[32] = {0};
  show("pread through F_DUPFD's copy", (lseek(20, 0, SEEK_SET), read(20, back, sizeof back - 1)));
  printf("contents: %s\n", back);
  show("dup2 to 7", dup2(copy, 7));
  show("dup2 onto itself", dup2(7, 7));
  show("dup2 bad", dup2(42, 8));
  show("lseek stdin", lseek(0, 0, SEEK_CUR));
  int notes = open("notes.txt", O_RDONLY);
  show("lseek image SEEK_END", lseek(notes, 0, SEEK_END));
  fflush(stdout);
  show("dup2 stderr onto stdout", dup2(2, 1));
  fflush(stdout); /* stdout on a pipe is fully buffered: its line goes to fd 1, now stderr, here */
  write(1, "to stderr through fd 1\n", 23);

  /* The working directory. */
  char cwd[64];
  printf("getcwd: %s\n", getcwd(cwd, sizeof cwd));
  show("chdir sub", chdir("sub"));
  printf("getcwd: %s\n", getcwd(cwd, sizeof cwd));
  char *grown = getcwd(NULL, 0);
  printf("getcwd(NULL, 0): %s\n", grown);
  free(grown);
  errno = 0;
  const char *small = getcwd(cwd, 3);
  printf("getcwd small: %s %s\n", small ? "ok" : "NULL", strerror(errno));
  FILE *deeper = fopen("deeper.txt", "r");
  char line[64] = "";
  if (deeper && fgets(line, sizeof line, deeper)) printf("relative open: %s", line);
  show("chdir ..", chdir(".."));
  show("chdir /notes.txt", chdir("/notes.txt"));
  show("chdir /missing", chdir("/missing"));
  printf("getcwd: %s\n", getcwd(cwd, sizeof cwd));

  /* The clock: the nvram's [time] seconds, standing still. */
  struct timeval tv;
  gettimeofday(&tv, 0);
  time_t now = time(0);
  char when[64];
  strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", gmtime(&now));
  printf("time: %ld gettimeofday: %ld.%06ld utc: %s\n", (long)now, (long)tv.tv_sec, (long)tv.tv_usec, when);

  /* Locales: C and POSIX exist, others fail and leave the locale alone. */
  printf("locale at start: %s\n", setlocale(LC_ALL, NULL));
  show_locale("POSIX");
  show_locale("C");
  show_locale("de_DE.UTF-8");
  show_locale("");
  printf("decimal point: %s %.2f\n", localeconv()->decimal_point, 3.5);
  return 0;
}
