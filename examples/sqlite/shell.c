/*
 * A small SQLite shell: the same program is built by `zerovm cc` (a nexe)
 * and by the host's gcc (the native twin the tests and the benchmark
 * compare against), over SQLite's amalgamation (fetched at build time, never
 * committed: test/toolchain/sqlite.ts).
 *
 *   shell [-readonly] [-bail] [-heap SIZE] [-cmd SQL]... [DATABASE] [SQL]...
 *
 * The command line is a subset of the sqlite3 CLI's, with its meaning, so
 * the tests can hand the same arguments to Debian's sqlite3: DATABASE (a
 * file name or a `file:` URI; ":memory:" when absent) is opened, each -cmd
 * runs first, then each SQL argument; without SQL arguments the statements
 * on stdin run. -heap SIZE (bytes, or with a K or M suffix) gives SQLite
 * one block of that size to allocate from (its memsys5 allocator) instead
 * of the C library's malloc, as the sqlite3 CLI's -heap does. Rows are
 * printed in sqlite3's default list mode: columns
 * joined by '|', NULL as the empty string, each row on its own line.
 * An error is printed as "Error: near line N: MESSAGE" (stdin) or
 * "Error: MESSAGE" (arguments) on stderr; the exit status is then 1. Lines
 * of stdin starting with '.' are dot-commands, of which only `.bail on|off`
 * is known (others are an error, not silently skipped).
 *
 * In a session there is one thread, no shared memory and no other process:
 * the build (toolchain/README.md "SQLite") compiles SQLite without threads and
 * mmap, and this shell makes the unix VFS without file locking ("unix-none")
 * the default, so a lock is never claimed to be held when nothing was
 * locked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

static int bail = 0;
static int failed = 0;

/* Runs SQL, printing rows as they come; line > 0 names the stdin line the statement began on. */
static int run(sqlite3 *db, const char *sql, int line) {
  const char *tail = sql;
  while (*tail) {
    sqlite3_stmt *stmt = 0;
    int rc = sqlite3_prepare_v2(db, tail, -1, &stmt, &tail);
    if (rc == SQLITE_OK && stmt) {
      int columns = sqlite3_column_count(stmt);
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        for (int i = 0; i < columns; i++) {
          const unsigned char *text = sqlite3_column_text(stmt, i);
          if (i > 0) fputc('|', stdout);
          /* A blob is written as its bytes, as sqlite3's list mode does. */
          if (text) fwrite(text, 1, (size_t)sqlite3_column_bytes(stmt, i), stdout);
        }
        fputc('\n', stdout);
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
      int finished = sqlite3_finalize(stmt);
      if (rc == SQLITE_OK) rc = finished;
    }
    if (rc != SQLITE_OK) {
      fflush(stdout);
      if (line > 0) fprintf(stderr, "Error: near line %d: %s\n", line, sqlite3_errmsg(db));
      else fprintf(stderr, "Error: %s\n", sqlite3_errmsg(db));
      failed = 1;
      return 1;
    }
    while (*tail == ' ' || *tail == '\t' || *tail == '\n' || *tail == '\r' || *tail == ';') tail++;
  }
  return 0;
}

static int dot_command(const char *line, int number) {
  char word[32], arg[32];
  int n = sscanf(line, ".%31s %31s", word, arg);
  if (n == 2 && strcmp(word, "bail") == 0 && (strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0)) {
    bail = strcmp(arg, "on") == 0;
    return 0;
  }
  fprintf(stderr, "Error: near line %d: unknown command or invalid arguments: \"%s\"\n", number, n > 0 ? word : "");
  failed = 1;
  return 1;
}

/* The statements on stdin, each run once sqlite3_complete() says it is whole. */
static int run_stdin(sqlite3 *db) {
  size_t cap = 4096, len = 0;
  char *sql = malloc(cap);
  char line[8192];
  int number = 0, start = 0;
  if (!sql) return 1;
  sql[0] = 0;
  while (fgets(line, sizeof line, stdin)) {
    number++;
    if (len == 0) {
      const char *p = line;
      while (*p == ' ' || *p == '\t') p++;
      if (*p == '\n' || *p == 0) continue;
      if (*p == '.') {
        if (dot_command(p, number) && bail) break;
        continue;
      }
      start = number;
    }
    size_t add = strlen(line);
    if (len + add + 1 > cap) {
      while (len + add + 1 > cap) cap *= 2;
      char *grown = realloc(sql, cap);
      if (!grown) {
        free(sql);
        fprintf(stderr, "Error: out of memory\n");
        return 1;
      }
      sql = grown;
    }
    memcpy(sql + len, line, add + 1);
    len += add;
    if (sqlite3_complete(sql)) {
      if (run(db, sql, start) && bail) break;
      len = 0;
      sql[0] = 0;
    }
  }
  if (len > 0 && !(failed && bail)) {
    /* An unterminated last statement: sqlite3 runs it too. */
    run(db, sql, start);
  }
  free(sql);
  return failed;
}

int main(int argc, char **argv) {
  const char *file = 0;
  const char *cmds[64];
  int ncmds = 0, sqlArgs = 0, readonly = 0;
  long heap = 0;
  char **sql = calloc((size_t)argc + 1, sizeof *sql);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-readonly") == 0 || strcmp(a, "--readonly") == 0) readonly = 1;
    else if (strcmp(a, "-bail") == 0 || strcmp(a, "--bail") == 0) bail = 1;
    else if ((strcmp(a, "-heap") == 0 || strcmp(a, "--heap") == 0) && i + 1 < argc) {
      char *end;
      heap = strtol(argv[++i], &end, 10);
      if (*end == 'K' || *end == 'k') heap *= 1024, end++;
      else if (*end == 'M' || *end == 'm') heap *= 1024 * 1024, end++;
      if (*end || heap <= 0) {
        fprintf(stderr, "%s: -heap: not a size: %s\n", argv[0], argv[i]);
        return 1;
      }
    } else if ((strcmp(a, "-cmd") == 0 || strcmp(a, "--cmd") == 0) && i + 1 < argc && ncmds < 64) cmds[ncmds++] = argv[++i];
    else if (a[0] == '-' && a[1] != 0) {
      fprintf(stderr, "%s: unknown option: %s\n", argv[0], a);
      return 1;
    } else if (!file) file = a;
    else sql[sqlArgs++] = argv[i];
  }
  void *block = heap > 0 ? malloc((size_t)heap) : 0;
  if (heap > 0 && (!block || sqlite3_config(SQLITE_CONFIG_HEAP, block, (int)heap, 64) != SQLITE_OK)) {
    fprintf(stderr, "Error: cannot give SQLite a heap of %ld bytes\n", heap);
    return 1;
  }
  /* The locking-free unix VFS is the default: one process per session (toolchain/README.md "SQLite"). */
  sqlite3_vfs *nolock = sqlite3_vfs_find("unix-none");
  if (!nolock || sqlite3_vfs_register(nolock, 1) != SQLITE_OK) {
    fprintf(stderr, "Error: SQLite was built without the unix-none VFS\n");
    return 1;
  }
  sqlite3 *db = 0;
  int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_URI;
  if (sqlite3_open_v2(file ? file : ":memory:", &db, flags, 0) != SQLITE_OK) {
    fprintf(stderr, "Error: unable to open database \"%s\": %s\n", file ? file : ":memory:", db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return 1;
  }
  for (int i = 0; i < ncmds; i++)
    if (run(db, cmds[i], 0) && bail) goto done;
  if (sqlArgs > 0) {
    for (int i = 0; i < sqlArgs; i++)
      if (run(db, sql[i], 0) && bail) break;
  } else {
    run_stdin(db);
  }
done:
  fflush(stdout);
  if (sqlite3_close(db) != SQLITE_OK) {
    fprintf(stderr, "Error: closing the database: %s\n", sqlite3_errmsg(db));
    failed = 1;
  }
  free(sql);
  return failed;
}
