-- The database of the read-only site (site.c) and of the SQLite tests:
-- a small library catalogue with indexes, JSON columns and a full-text index.
CREATE TABLE authors(id INTEGER PRIMARY KEY, name TEXT NOT NULL, country TEXT, born INTEGER);
INSERT INTO authors VALUES
  (1, 'Ada Lovelace', 'UK', 1815), (2, 'Alan Turing', 'UK', 1912), (3, 'Grace Hopper', 'US', 1906),
  (4, 'Edsger Dijkstra', 'NL', 1930), (5, 'Barbara Liskov', 'US', 1939), (6, 'Donald Knuth', 'US', 1938),
  (7, 'Niklaus Wirth', 'CH', 1934), (8, 'Frances Allen', 'US', 1932), (9, 'Tony Hoare', 'UK', 1934),
  (10, 'Karen Sparck Jones', 'UK', 1935), (11, 'John Backus', 'US', 1924), (12, 'Unknown', NULL, NULL);
CREATE TABLE books(
  id INTEGER PRIMARY KEY,
  author_id INTEGER NOT NULL REFERENCES authors(id),
  title TEXT NOT NULL,
  year INTEGER,
  pages INTEGER,
  tags TEXT -- a JSON array
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
INSERT INTO books
  SELECT i, 1 + (i * 7) % 12, 'Volume ' || i || ' of ' || (CASE i % 4 WHEN 0 THEN 'algorithms' WHEN 1 THEN 'sandboxes' WHEN 2 THEN 'compilers' ELSE 'databases' END),
         1900 + (i * 37) % 120, CASE WHEN i % 50 = 0 THEN NULL ELSE 40 + (i * 53) % 900 END,
         json_array('t' || (i % 5), 't' || (i % 3), i % 2 = 0)
  FROM n;
CREATE INDEX books_year ON books(year);
CREATE INDEX books_author ON books(author_id, year);
CREATE TABLE loans(book_id INTEGER REFERENCES books(id), reader TEXT, day TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO loans SELECT 1 + (i * 13) % 600, 'reader' || (i % 17), date('2020-01-01', '+' || i || ' days') FROM n;
CREATE VIEW prolific AS SELECT author_id, count(*) AS n FROM books GROUP BY author_id HAVING count(*) > 49;
CREATE VIRTUAL TABLE notes USING fts5(title, body);
INSERT INTO notes(rowid, title, body) VALUES
  (1, 'Native Client', 'Software fault isolation: the validator checks every instruction of the sandbox before it runs.'),
  (2, 'ZeroVM', 'A lightweight sandbox built on Native Client, with channels instead of a file system.'),
  (3, 'SQLite', 'A small, fast, self-contained SQL database engine, often embedded in applications.'),
  (4, 'Channels', 'Every byte a session reads or writes goes through a channel declared in the manifest.'),
  (5, 'Determinism', 'The same program with the same inputs gives the same outputs, byte for byte.'),
  (6, 'Read-only web site', 'A database image served by a sandboxed program that answers one query per session.');
