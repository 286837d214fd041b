/*
 * ZeroVM's classic read-only web site: one session per request. The
 * request line is read from stdin, answered from a SQLite database that
 * is part of the zapp's read-only image, and the rows are written to
 * stdout as a JSON array of objects (one key per column).
 *
 *   site DATABASE            (zapp.yaml's args give /data/site.db)
 *   stdin:  GET /PATH?QUERY [HTTP/1.x]   or just   /PATH?QUERY
 *
 * Routes (each a fixed statement; query values are bound, never spliced):
 *   /authors                     every author
 *   /books?author=ID             an author's books, oldest first
 *   /search?q=WORDS              full-text search (FTS5) of the notes, best first
 *   /countries                   authors and books per country
 * An unknown route or a missing parameter gives {"error": "..."} and exit
 * status 1; so does a database error.
 *
 * The database is opened as `file:DATABASE?immutable=1` read-only: the
 * image cannot change during a session, so SQLite reads it without
 * journal checks or locks (toolchain/README.md "SQLite").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sqlite3.h"

struct route {
  const char *path;
  const char *param; /* the query parameter bound to ?1, or 0 */
  const char *sql;
};

static const struct route routes[] = {
    {"/authors", 0, "SELECT id, name, country, born FROM authors ORDER BY id"},
    {"/books", "author", "SELECT id, title, year, pages FROM books WHERE author_id = ?1 ORDER BY year, id"},
    {"/search", "q", "SELECT rowid AS id, title, snippet(notes, 1, '<b>', '</b>', '...', 8) AS snippet FROM notes WHERE notes MATCH ?1 ORDER BY rank, rowid"},
    {"/countries", 0,
     "SELECT a.country, count(DISTINCT a.id) AS authors, count(b.id) AS books FROM authors a LEFT JOIN books b ON b.author_id = a.id "
     "WHERE a.country IS NOT NULL GROUP BY a.country ORDER BY a.country"},
};

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes %XX and '+' (form encoding) in place. */
static void url_decode(char *s) {
  char *out = s;
  for (char *in = s; *in; in++) {
    if (*in == '+') *out++ = ' ';
    else if (*in == '%' && hexval(in[1]) >= 0 && hexval(in[2]) >= 0) {
      *out++ = (char)(hexval(in[1]) * 16 + hexval(in[2]));
      in += 2;
    } else *out++ = *in;
  }
  *out = 0;
}

/* The value of NAME in "a=1&b=2" (decoded, malloc'd), or 0. */
static char *query_value(const char *query, const char *name) {
  size_t n = strlen(name);
  for (const char *p = query; p && *p;) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
      char *value = malloc(len - n);
      memcpy(value, p + n + 1, len - n - 1);
      value[len - n - 1] = 0;
      url_decode(value);
      return value;
    }
    p = end ? end + 1 : 0;
  }
  return 0;
}

/* S as a JSON string: '"' and '\\' escaped, control characters as \\uXXXX (\\n, \\t, \\r by name). */
static void json_string(sqlite3_str *out, const unsigned char *s, int len) {
  sqlite3_str_appendchar(out, 1, '"');
  for (int i = 0; i < len; i++) {
    unsigned char c = s[i];
    if (c == '"' || c == '\\') sqlite3_str_appendf(out, "\\%c", c);
    else if (c == '\n') sqlite3_str_appendall(out, "\\n");
    else if (c == '\t') sqlite3_str_appendall(out, "\\t");
    else if (c == '\r') sqlite3_str_appendall(out, "\\r");
    else if (c < 0x20) sqlite3_str_appendf(out, "\\u%04x", c);
    else sqlite3_str_appendchar(out, 1, (char)c);
  }
  sqlite3_str_appendchar(out, 1, '"');
}

static int fail(const char *message) {
  sqlite3_str *out = sqlite3_str_new(0);
  sqlite3_str_appendall(out, "{\"error\": ");
  json_string(out, (const unsigned char *)message, (int)strlen(message));
  sqlite3_str_appendall(out, "}\n");
  char *text = sqlite3_str_finish(out);
  fputs(text ? text : "{\"error\": \"out of memory\"}\n", stdout);
  sqlite3_free(text);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DATABASE < request\n", argv[0]);
    return 2;
  }
  char line[4096];
  if (!fgets(line, sizeof line, stdin)) return fail("no request on stdin");
  line[strcspn(line, "\r\n")] = 0;
  char *target = line;
  if (strncmp(target, "GET ", 4) == 0) target += 4;
  target[strcspn(target, " ")] = 0; /* drop " HTTP/1.x" */
  char *query = strchr(target, '?');
  if (query) *query++ = 0;

  const struct route *route = 0;
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
    if (strcmp(routes[i].path, target) == 0) route = &routes[i];
  if (!route) {
    char message[4200];
    snprintf(message, sizeof message, "no route %s", target);
    return fail(message);
  }
  char *param = 0;
  if (route->param && !(param = query ? query_value(query, route->param) : 0)) {
    char message[64];
    snprintf(message, sizeof message, "%s needs ?%s=", route->path, route->param);
    return fail(message);
  }

  sqlite3_vfs *nolock = sqlite3_vfs_find("unix-none");
  if (nolock) sqlite3_vfs_register(nolock, 1);
  char *uri = sqlite3_mprintf("file:%s?immutable=1", argv[1]);
  sqlite3 *db = 0;
  sqlite3_stmt *stmt = 0;
  int rc = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0);
  sqlite3_free(uri);
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, route->sql, -1, &stmt, 0);
  if (rc == SQLITE_OK && param) rc = sqlite3_bind_text(stmt, 1, param, -1, SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) {
    int status = fail(db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close(db);
    return status;
  }
  /* The rows are collected before anything is printed, so an error midway still gives one JSON value. */
  sqlite3_str *out = sqlite3_str_new(db);
  int rows = 0;
  sqlite3_str_appendall(out, "[");
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    sqlite3_str_appendall(out, rows++ ? ",\n {" : "\n {");
    for (int i = 0; i < sqlite3_column_count(stmt); i++) {
      const char *name = sqlite3_column_name(stmt, i);
      if (i) sqlite3_str_appendall(out, ", ");
      json_string(out, (const unsigned char *)name, (int)strlen(name));
      sqlite3_str_appendall(out, ": ");
      switch (sqlite3_column_type(stmt, i)) {
      case SQLITE_NULL:
        sqlite3_str_appendall(out, "null");
        break;
      case SQLITE_INTEGER:
      case SQLITE_FLOAT:
        sqlite3_str_appendall(out, (const char *)sqlite3_column_text(stmt, i));
        break;
      default: /* text; a blob is written as its bytes, escaped the same way */
        json_string(out, sqlite3_column_text(stmt, i), sqlite3_column_bytes(stmt, i));
      }
    }
    sqlite3_str_appendall(out, "}");
  }
  sqlite3_str_appendall(out, rows ? "\n]\n" : "]\n");
  char *json = sqlite3_str_finish(out);
  int status = 0;
  if (rc != SQLITE_DONE) status = fail(sqlite3_errmsg(db));
  else if (json) fputs(json, stdout);
  else status = fail("out of memory");
  sqlite3_free(json);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  free(param);
  return status;
}
