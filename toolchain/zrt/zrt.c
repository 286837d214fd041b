/*
 * zrt: the system-call layer between newlib and ZeroVM's one trap, for
 * programs built by `zerovm cc`. (Named after ZeroVM's own "ZRT" runtime
 * library, whose conventions it follows; no code is shared.)
 *
 * Pipeline position: crt0.S (_start) -> __zrt_init here, then main();
 * newlib's reentrant wrappers (_read_r ...) -> the _read/_write/... below
 * -> the trap (trap.S __zrt_trap) -> the runtime's trap handler.
 *
 * What it maps (spec/runtime.md "The trap", "The user manifest" and
 * "Command lines" for zvsh's nvram):
 * - file descriptors 0, 1, 2 are the channels /dev/stdin, /dev/stdout,
 *   /dev/stderr; open() of a channel's alias gives a descriptor on it
 *   (reads and writes pass the position as the trap offset, which
 *   sequential channels ignore); dup(), dup2() and fcntl(F_DUPFD) share
 *   the open file description (position and status flags) as POSIX says;
 *   fcntl() answers F_GETFD/F_SETFD/F_GETFL/F_SETFL (O_APPEND);
 *   lseek() works on random-access channels and image files (ESPIPE on
 *   sequential channels), SEEK_END counting what this session wrote;
 * - argv and the environment come from the channel /dev/nvram, in the
 *   format zvsh writes (src/runtime/nvram.ts): one record per line;
 *   [mapping] modes decide what fstat() says (char devices make stdio line
 *   buffered); [time] seconds is the clock;
 * - [fstab] channel=ALIAS,mountpoint=DIR,access=ro mounts a tar image
 *   read-only: open() of a path under DIR reads the file out of the image;
 *   the working directory starts at '/', chdir() moves it to a directory
 *   of the image and getcwd() tells it; stat() says S_IFDIR for the
 *   image's directories (listed ones, the parents of its files, '/'),
 *   S_IFREG for its files, and for a channel what its [mapping] mode or
 *   its type says (fstat below);
 * - sbrk() hands out the heap the user manifest describes;
 * - the clock is deterministic: gettimeofday() returns the [time] seconds
 *   (0 without one) and never advances; times() reports zero CPU time;
 * - everything else fails with ENOSYS (or EROFS / EBADF / ENOENT where
 *   that is the honest answer), never a crash.
 */
#include <errno.h>
#include <reent.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/times.h>
#include <unistd.h>
#include <zerovm.h>

/*
 * errno is the C library's own (newlib's per-thread _REENT->_errno), not
 * the global that libgloss-style system calls set: newlib's _read_r...
 * wrappers copy a global errno only when it is non-zero, so setting the
 * real one works for them too, and it is the only one that reaches a
 * program through the calls no wrapper stands in front of (dup, dup2,
 * chdir, getcwd) or that ignore a failure's errno (isatty's returns 0).
 */

#define TRAP_READ 0x64616552u
#define TRAP_WRITE 0x74697257u
#define TRAP_EXIT 0x74697845u
#define TRAP_JAIL 0x6c69614au
#define TRAP_UNJAIL 0x6c6a6e55u
#define TRAP_FORK 0x6b726f46u

/* The user manifest (struct zvm_manifest, zerovm.h), read only, placed by
 * the runtime below the stack; this word holds its address. */
#define MANIFEST_POINTER 0xFEFFFFFCu

extern int32_t __zrt_trap(uint64_t *block);
extern void __libc_init_array(void);
/* newlib's stdlib/environ.c defines it; crt0.S reads it for main's third argument. */
extern char **environ;

static const struct zvm_manifest *manifest;
static const struct zvm_channel *channels;

static int32_t trap(uint32_t function, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3) {
  uint64_t block[6] = {function, 0, a0, a1, a2, a3};
  return __zrt_trap(block);
}

static int32_t channel_read(int ch, void *buf, uint32_t size, int64_t offset) {
  return trap(TRAP_READ, (uint64_t)ch, (uint64_t)(uintptr_t)buf, size, (uint64_t)offset);
}

static int32_t channel_write(int ch, const void *buf, uint32_t size, int64_t offset) {
  return trap(TRAP_WRITE, (uint64_t)ch, (uint64_t)(uintptr_t)buf, size, (uint64_t)offset);
}

static const char *channel_name(int ch) { return channels[ch].name; }

static int channel_by_alias(const char *alias) {
  for (int i = 0; i < manifest->channels_count; i++)
    if (strcmp(channel_name(i), alias) == 0) return i;
  return -1;
}

/* ---------------------------------------------------------------------- */
/* zerovm.h: the trap for C programs (toolchain/include/zerovm.h). */

/* The runtime's layout (src/runtime/layout.ts): 32-bit pointers, a 48-byte channel record. */
_Static_assert(sizeof(struct zvm_manifest) == 20 && sizeof(struct zvm_channel) == 48, "user manifest layout");

const struct zvm_manifest *zvm_manifest(void) { return manifest; }
int32_t zvm_pread(int channel, void *buffer, int32_t size, int64_t offset) { return channel_read(channel, buffer, (uint32_t)size, offset); }
int32_t zvm_pwrite(int channel, const void *buffer, int32_t size, int64_t offset) { return channel_write(channel, buffer, (uint32_t)size, offset); }
int32_t zvm_jail(const void *buffer, int32_t size) { return trap(TRAP_JAIL, (uint64_t)(uintptr_t)buffer, (uint64_t)(uint32_t)size, 0, 0); }
int32_t zvm_unjail(const void *buffer, int32_t size) { return trap(TRAP_UNJAIL, (uint64_t)(uintptr_t)buffer, (uint64_t)(uint32_t)size, 0, 0); }
static void take_channel_sizes(int after_fork);
/*
 * After TrapFork returns (in a request started from the snapshot, or at
 * once where there is no daemon), a random channel whose size in the user
 * manifest is not the one read at start takes the new one: a warm request
 * of `zerovm serve` or the embedding API finds its own sizes there
 * (spec/serving.md, "Warm starts in zerovm serve"); the original's daemon
 * mode and a session that did not fork find the old ones, and keep what
 * their writes grew.
 */
int32_t zvm_fork(void) {
  int32_t r = trap(TRAP_FORK, 0, 0, 0, 0);
  take_channel_sizes(1);
  return r;
}
void zvm_exit(int32_t code) {
  for (;;) trap(TRAP_EXIT, (uint64_t)(uint32_t)code, 0, 0, 0);
}

/* ---------------------------------------------------------------------- */
/* Heap */

static uintptr_t heap_end, heap_limit;

void *_sbrk(ptrdiff_t increment) {
  uintptr_t old = heap_end;
  if (increment >= 0 ? heap_limit - old < (uintptr_t)increment : old - (uintptr_t)manifest->heap_ptr < (uintptr_t)-increment) {
    errno = ENOMEM;
    return (void *)-1;
  }
  heap_end = old + increment;
  return (void *)old;
}

/* ---------------------------------------------------------------------- */
/* The read-only file system: a tar image channel. */

struct image_file {
  char *path; /* absolute, normalised */
  int64_t offset;
  int64_t size;
  int is_dir;
};
static struct image_file *image_files;
static int image_count;
static int image_channel = -1;

/* Normalises an absolute path in place: no "//", ".", "..", no trailing '/'. */
static void normalise(char *path) {
  char *out = path;
  const char *in = path;
  while (*in) {
    while (*in == '/') in++;
    if (!*in) break;
    const char *end = strchr(in, '/');
    size_t len = end ? (size_t)(end - in) : strlen(in);
    if (len == 1 && in[0] == '.') {
    } else if (len == 2 && in[0] == '.' && in[1] == '.') {
      while (out > path && *--out != '/') {
      }
    } else {
      *out++ = '/';
      memmove(out, in, len);
      out += len;
    }
    in += len;
  }
  if (out == path) *out++ = '/';
  *out = 0;
}

/* "/" + path for relative paths (the working directory is "/"), normalised; malloc'd. */
static char *absolute(const char *mount, const char *path) {
  size_t n = strlen(mount) + strlen(path) + 3;
  char *out = malloc(n);
  if (!out) return 0;
  strcpy(out, path[0] == '/' ? "" : mount);
  strcat(out, "/");
  strcat(out, path);
  normalise(out);
  return out;
}

static int64_t octal(const char *field, int width) {
  int64_t v = 0;
  for (int i = 0; i < width && field[i]; i++) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    v = v * 8 + (field[i] - '0');
  }
  return v;
}

static void mount_image(int ch, const char *mountpoint) {
  char header[512];
  int64_t offset = 0;
  image_channel = ch;
  for (;;) {
    if (channel_read(ch, header, 512, offset) != 512) break;
    if (header[0] == 0) break;
    int64_t size = octal(header + 124, 12);
    char type = header[156];
    char name[256 + 2];
    name[0] = 0;
    if (memcmp(header + 257, "ustar", 5) == 0 && header[345]) {
      strncat(name, header + 345, 155);
      strcat(name, "/");
    }
    strncat(name, header, 100);
    if (type == '0' || type == 0 || type == '5') {
      struct image_file *grown = realloc(image_files, (image_count + 1) * sizeof *grown);
      char *path = absolute(mountpoint, name);
      if (!grown || !path) break;
      /* A member path is relative to the mount point even when it starts with '/'. */
      if (name[0] == '/') {
        free(path);
        char *joined = malloc(strlen(mountpoint) + strlen(name) + 2);
        if (!joined) break;
        strcpy(joined, mountpoint);
        strcat(joined, "/");
        strcat(joined, name);
        normalise(joined);
        path = joined;
      }
      image_files = grown;
      image_files[image_count].path = path;
      image_files[image_count].offset = offset + 512;
      image_files[image_count].size = size;
      image_files[image_count].is_dir = type == '5';
      image_count++;
    }
    offset += 512 + (size + 511) / 512 * 512;
  }
}

/* The working directory: "/" or an absolute, normalised directory of the image. */
static char *cwd;

/* PATH made absolute against the working directory; malloc'd, or 0. */
static char *resolve(const char *path) { return absolute(strcmp(cwd, "/") == 0 ? "" : cwd, path); }

static struct image_file *image_lookup(const char *path) {
  char *abs = resolve(path);
  if (!abs) return 0;
  struct image_file *found = 0;
  for (int i = 0; i < image_count && !found; i++)
    if (strcmp(image_files[i].path, abs) == 0) found = &image_files[i];
  free(abs);
  return found;
}

/* True for '/', an image's directory entry, or a parent directory of an image member (tars need not list them). */
static int is_directory(const char *path) {
  char *abs = resolve(path);
  if (!abs) return 0;
  size_t n = strlen(abs);
  int found = strcmp(abs, "/") == 0;
  for (int i = 0; i < image_count && !found; i++) {
    const char *p = image_files[i].path;
    found = strncmp(p, abs, n) == 0 && (p[n] == '/' ? 1 : p[n] == 0 && image_files[i].is_dir);
  }
  free(abs);
  return found;
}

int chdir(const char *path) {
  if (!path || !*path) {
    errno = ENOENT;
    return -1;
  }
  if (!is_directory(path)) {
    errno = image_count > 0 && image_lookup(path) ? ENOTDIR : ENOENT;
    return -1;
  }
  char *abs = resolve(path);
  if (!abs) {
    errno = ENOMEM;
    return -1;
  }
  free(cwd);
  cwd = abs;
  return 0;
}

/* weak, as the other calls newlib does not wrap (below): a program's own getcwd() wins */
__attribute__((weak)) char *getcwd(char *buf, size_t size) {
  size_t need = strlen(cwd) + 1;
  if (buf && size == 0) {
    errno = EINVAL;
    return 0;
  }
  if (size != 0 && size < need) {
    errno = ERANGE;
    return 0;
  }
  /* getcwd(NULL, n) allocates, as glibc and the BSDs do. */
  if (!buf && !(buf = malloc(size ? size : need))) {
    errno = ENOMEM;
    return 0;
  }
  memcpy(buf, cwd, need);
  return buf;
}

/* ---------------------------------------------------------------------- */
/* File descriptors */

enum { FD_FREE, FD_CHANNEL, FD_IMAGE };
enum { MODE_DEFAULT, MODE_PIPE, MODE_CHAR, MODE_FILE };
#define MAX_FDS 64

/* An open file description: what open() creates and dup() shares. */
struct description {
  int refs;
  int flags; /* the access mode and O_APPEND */
  int64_t pos;
};

struct fd {
  int kind;
  int channel;
  struct description *d;
  struct image_file *file;
  int fd_flags; /* FD_CLOEXEC: kept for F_GETFD, although no exec exists */
};
static struct fd fds[MAX_FDS];
static unsigned char *channel_modes; /* per channel: MODE_* from [mapping] */
/* per random-access channel: its size, grown by this session's writes (SEEK_END, fstat) */
static int64_t *channel_ends;

static struct fd *get_fd(int fd) {
  if (fd < 0 || fd >= MAX_FDS || fds[fd].kind == FD_FREE) {
    errno = EBADF;
    return 0;
  }
  return &fds[fd];
}

static int new_fd(void) {
  for (int i = 0; i < MAX_FDS; i++)
    if (fds[i].kind == FD_FREE) return i;
  errno = EMFILE;
  return -1;
}

static int is_random(int ch) { return channels[ch].size > 0 || channels[ch].type == 1 || channels[ch].type == 3; }

/* per channel: its size in the user manifest when last taken (at start, after TrapFork) */
static int64_t *channel_starts;

/* Each channel's size as the user manifest says: all of them at start; after TrapFork, those that changed there. */
static void take_channel_sizes(int after_fork) {
  if (!channel_ends || !channel_starts) return;
  for (int i = 0; i < manifest->channels_count; i++) {
    if (after_fork && channels[i].size == channel_starts[i]) continue;
    channel_ends[i] = channel_starts[i] = channels[i].size;
  }
}

/*
 * A channel's size as this program has made it: a random channel's is the
 * manifest's (the file's at the start) grown by writes past its end, as
 * the runtime grows it (spec/runtime.md "Channels"); the user manifest is
 * read-only and keeps the first value, so fstat(), SEEK_END and reads at
 * the end need this one.
 */
static int64_t channel_size(int ch) { return is_random(ch) ? channel_ends[ch] : channels[ch].size; }

static void channel_wrote(int ch, int64_t end) {
  if (is_random(ch) && end > channel_ends[ch]) channel_ends[ch] = end;
}

static struct description *new_description(int flags, int64_t pos) {
  struct description *d = malloc(sizeof *d);
  if (!d) {
    errno = ENOMEM;
    return 0;
  }
  *d = (struct description){1, flags & (O_ACCMODE | O_APPEND), pos};
  return d;
}

static void release(struct fd *f) {
  if (--f->d->refs == 0) free(f->d);
  f->kind = FD_FREE;
}

int _open(const char *path, int flags, ...) {
  int ch = channel_by_alias(path);
  int fd;
  if (ch >= 0) {
    struct description *d;
    if ((fd = new_fd()) < 0 || !(d = new_description(flags, (flags & O_APPEND) ? channel_ends[ch] : 0))) return -1;
    fds[fd] = (struct fd){FD_CHANNEL, ch, d, 0, 0};
    return fd;
  }
  struct image_file *file = image_count > 0 ? image_lookup(path) : 0;
  if (file) {
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))) {
      errno = EROFS;
      return -1;
    }
    if (file->is_dir) {
      errno = EISDIR;
      return -1;
    }
    struct description *d;
    if ((fd = new_fd()) < 0 || !(d = new_description(flags, 0))) return -1;
    fds[fd] = (struct fd){FD_IMAGE, image_channel, d, file, 0};
    return fd;
  }
  errno = (flags & O_CREAT) ? EROFS : ENOENT;
  return -1;
}

int _close(int fd) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  release(f);
  return 0;
}

static int result(int32_t r) {
  if (r < 0) {
    errno = -r;
    return -1;
  }
  return r;
}

int _read(int fd, void *buf, size_t size) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  if (f->kind == FD_IMAGE) {
    int64_t left = f->file->size - f->d->pos;
    if (left <= 0) return 0;
    if ((int64_t)size > left) size = (size_t)left;
    int r = result(channel_read(f->channel, buf, size, f->file->offset + f->d->pos));
    if (r > 0) f->d->pos += r;
    return r;
  }
  /* at or past the end: end of file (the trap itself fails such a read with EFAULT, as the original did) */
  if (is_random(f->channel) && f->d->pos >= channel_ends[f->channel]) return 0;
  int r = result(channel_read(f->channel, buf, size, f->d->pos));
  if (r > 0) f->d->pos += r;
  return r;
}

int _write(int fd, const void *buf, size_t size) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  if (f->kind == FD_IMAGE) {
    errno = EBADF;
    return -1;
  }
  int random = is_random(f->channel);
  if (random && (f->d->flags & O_APPEND)) f->d->pos = channel_ends[f->channel];
  int r = result(channel_write(f->channel, buf, size, f->d->pos));
  if (r > 0) f->d->pos += r;
  channel_wrote(f->channel, f->d->pos);
  return r;
}

off_t _lseek(int fd, off_t offset, int whence) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  int64_t size;
  if (f->kind == FD_IMAGE) size = f->file->size;
  else if (is_random(f->channel)) size = channel_ends[f->channel];
  else {
    errno = ESPIPE;
    return -1;
  }
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? f->d->pos : whence == SEEK_END ? size : -1;
  if (base < 0 || base + offset < 0) {
    errno = EINVAL;
    return -1;
  }
  f->d->pos = base + offset;
  return (off_t)f->d->pos;
}

static int channel_mode(int ch) {
  int mode = channel_modes ? channel_modes[ch] : MODE_DEFAULT;
  if (mode != MODE_DEFAULT) return mode;
  if (ch <= 2) return MODE_CHAR;
  return is_random(ch) ? MODE_FILE : MODE_PIPE;
}

int _fstat(int fd, struct stat *st) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  memset(st, 0, sizeof *st);
  st->st_blksize = 4096;
  st->st_nlink = 1;
  if (f->kind == FD_IMAGE) {
    st->st_mode = S_IFREG | 0444;
    st->st_size = (off_t)f->file->size;
    return 0;
  }
  int mode = channel_mode(f->channel);
  st->st_mode = (mode == MODE_CHAR ? S_IFCHR : mode == MODE_PIPE ? S_IFIFO : S_IFREG) | 0666;
  st->st_size = (off_t)(is_random(f->channel) ? channel_ends[f->channel] : channels[f->channel].size);
  st->st_ino = (ino_t)(f->channel + 1);
  return 0;
}

int _stat(const char *path, struct stat *st) {
  struct image_file *file = image_count > 0 ? image_lookup(path) : 0;
  if (file || is_directory(path)) {
    memset(st, 0, sizeof *st);
    st->st_mode = (!file || file->is_dir ? S_IFDIR | 0555 : S_IFREG | 0444);
    st->st_size = file ? (off_t)file->size : 0;
    st->st_nlink = 1;
    st->st_blksize = 4096;
    return 0;
  }
  int fd = _open(path, O_RDONLY);
  if (fd < 0) return -1;
  int r = _fstat(fd, st);
  _close(fd);
  return r;
}

int _isatty(int fd) {
  struct stat st;
  if (_fstat(fd, &st) < 0) return 0;
  if (!S_ISCHR(st.st_mode)) {
    errno = ENOTTY;
    return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------------- */
/*
 * The rest of the descriptor calls portable code makes (SQLite's unix VFS
 * calls every one of them; spec/toolchain.md "SQLite"). Each does what
 * POSIX says for the file system above: channels and the files of a
 * read-only image, no directories to change, no links, no owners.
 */

/* Positioned I/O: the trap's offset, without moving the descriptor. */
static ssize_t pread_impl(int fd, void *buf, size_t size, off_t offset) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  if (offset < 0) {
    errno = EINVAL;
    return -1;
  }
  if (f->kind == FD_IMAGE) {
    int64_t left = f->file->size - offset;
    if (left <= 0) return 0;
    if ((int64_t)size > left) size = (size_t)left;
    return result(channel_read(f->channel, buf, size, f->file->offset + offset));
  }
  if (!is_random(f->channel)) {
    errno = ESPIPE;
    return -1;
  }
  if (offset >= channel_size(f->channel)) return 0;
  return result(channel_read(f->channel, buf, size, offset));
}

static ssize_t pwrite_impl(int fd, const void *buf, size_t size, off_t offset) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  if (f->kind == FD_IMAGE) {
    errno = EBADF;
    return -1;
  }
  if (offset < 0) {
    errno = EINVAL;
    return -1;
  }
  if (!is_random(f->channel)) {
    errno = ESPIPE;
    return -1;
  }
  int r = result(channel_write(f->channel, buf, size, offset));
  if (r > 0) channel_wrote(f->channel, offset + r);
  return r;
}

/*
 * fsync: zrt keeps no buffer (each write is a trap), and the runtime
 * writes a channel's bytes to the host before the trap returns
 * (spec/runtime.md "Channels"), so by now every byte written has left the
 * program. What the host does with its cache is outside the session.
 */
static int fsync_impl(int fd) { return get_fd(fd) ? 0 : -1; }

/*
 * ftruncate: a channel can grow (a zero byte written at LENGTH - 1) but the
 * trap has no call that shortens one, so a smaller length is refused.
 */
static int ftruncate_impl(int fd, off_t length) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  if (f->kind == FD_IMAGE) {
    errno = EROFS;
    return -1;
  }
  if (length < 0 || !is_random(f->channel) || (f->d->flags & O_ACCMODE) == O_RDONLY) {
    errno = EINVAL;
    return -1;
  }
  int64_t size = channel_size(f->channel);
  if (length == size) return 0;
  if (length < size) {
    errno = ENOSYS;
    return -1;
  }
  static const char zero = 0;
  if (result(channel_write(f->channel, &zero, 1, (int64_t)length - 1)) != 1) return -1;
  channel_wrote(f->channel, length);
  return 0;
}

static int ioctl_impl(int fd, unsigned long request) {
  (void)request;
  if (!get_fd(fd)) return -1;
  errno = ENOTTY;
  return -1;
}

/* No symbolic links: lstat() is stat(), readlink() finds no link. */
static int lstat_impl(const char *path, struct stat *st) { return _stat(path, st); }

static ssize_t readlink_impl(const char *path, char *buf, size_t size) {
  struct stat st;
  (void)buf, (void)size;
  if (_stat(path, &st) < 0) return -1;
  errno = EINVAL;
  return -1;
}

/* access(): image files are readable, channels as their type allows. */
static int access_impl(const char *path, int mode) {
  int ch = channel_by_alias(path);
  if (ch >= 0) {
    int readable = channels[ch].limits[0] > 0 && channels[ch].limits[1] > 0;
    int writable = channels[ch].limits[2] > 0 && channels[ch].limits[3] > 0;
    if (((mode & R_OK) && !readable) || ((mode & W_OK) && !writable) || (mode & X_OK)) {
      errno = EACCES;
      return -1;
    }
    return 0;
  }
  struct image_file *file = image_count > 0 ? image_lookup(path) : 0;
  if (!file) {
    errno = ENOENT;
    return -1;
  }
  if (mode & W_OK) {
    errno = EROFS;
    return -1;
  }
  if ((mode & X_OK) && !file->is_dir) {
    errno = EACCES;
    return -1;
  }
  return 0;
}

/*
 * A session has no users. The ids are those of an unprivileged user
 * ("nobody", 65534), which is what the program is: it can change no
 * owner and no permission.
 */
#define NOBODY 65534
__attribute__((weak)) uid_t getuid(void) { return NOBODY; }
__attribute__((weak)) uid_t geteuid(void) { return NOBODY; }
__attribute__((weak)) gid_t getgid(void) { return NOBODY; }
__attribute__((weak)) gid_t getegid(void) { return NOBODY; }
static int fchown_impl(int fd, uid_t owner, gid_t group) {
  (void)owner, (void)group;
  if (!get_fd(fd)) return -1;
  errno = EPERM;
  return -1;
}

/* Nor permissions or times to change: the host owns both (an image's are in the tar, a channel's on the host). */
static int fchmod_impl(int fd, mode_t mode) {
  struct fd *f = get_fd(fd);
  (void)mode;
  if (!f) return -1;
  errno = f->kind == FD_IMAGE ? EROFS : EPERM;
  return -1;
}

static int utimes_impl(const char *path, const struct timeval times[2]) {
  (void)times;
  if (channel_by_alias(path) >= 0) {
    errno = EPERM;
    return -1;
  }
  errno = image_count > 0 && image_lookup(path) ? EROFS : ENOENT;
  return -1;
}

int _mkdir(const char *path, int mode);
static int mkdir_impl(const char *path, mode_t mode) { return _mkdir(path, (int)mode); }

static int rmdir_impl(const char *path) {
  struct image_file *file = image_count > 0 ? image_lookup(path) : 0;
  errno = !file ? ENOENT : file->is_dir ? EROFS : ENOTDIR;
  return -1;
}

/*
 * sleep(): the session's clock ([time]) never advances, so no amount of
 * waiting would pass; nothing is slept and the whole request is returned
 * as unslept, as POSIX reports an interrupted sleep.
 */
static unsigned sleep_impl(unsigned seconds) {
  errno = EINTR;
  return seconds;
}


/*
 * newlib's wrappers of the calls above it (_read_r for _read...) copy the
 * errno zrt sets into the program's (_REENT->_errno, what `errno` reads);
 * these calls have no such wrapper in newlib, so they publish it here.
 * They are weak: zrt.o is linked into every program, and one that defines
 * its own sleep() or access() must still link (its definition wins).
 */
#define ZRT_WEAK __attribute__((weak))
#define PUBLISH_ERRNO(type, call, failed) \
  {                                       \
    errno = 0;                            \
    type r = call;                        \
    if (failed) _REENT->_errno = errno;   \
    return r;                             \
  }

ZRT_WEAK ssize_t pread(int fd, void *buf, size_t size, off_t offset) PUBLISH_ERRNO(ssize_t, pread_impl(fd, buf, size, offset), r < 0)
ZRT_WEAK ssize_t pwrite(int fd, const void *buf, size_t size, off_t offset) PUBLISH_ERRNO(ssize_t, pwrite_impl(fd, buf, size, offset), r < 0)
ZRT_WEAK int fsync(int fd) PUBLISH_ERRNO(int, fsync_impl(fd), r < 0)
ZRT_WEAK int ftruncate(int fd, off_t length) PUBLISH_ERRNO(int, ftruncate_impl(fd, length), r < 0)
ZRT_WEAK int lstat(const char *path, struct stat *st) PUBLISH_ERRNO(int, lstat_impl(path, st), r < 0)
ZRT_WEAK ssize_t readlink(const char *path, char *buf, size_t size) PUBLISH_ERRNO(ssize_t, readlink_impl(path, buf, size), r < 0)
ZRT_WEAK int access(const char *path, int mode) PUBLISH_ERRNO(int, access_impl(path, mode), r < 0)
ZRT_WEAK int fchown(int fd, uid_t owner, gid_t group) PUBLISH_ERRNO(int, fchown_impl(fd, owner, group), r < 0)
ZRT_WEAK int fchmod(int fd, mode_t mode) PUBLISH_ERRNO(int, fchmod_impl(fd, mode), r < 0)
ZRT_WEAK int utimes(const char *path, const struct timeval times[2]) PUBLISH_ERRNO(int, utimes_impl(path, times), r < 0)
ZRT_WEAK int mkdir(const char *path, mode_t mode) PUBLISH_ERRNO(int, mkdir_impl(path, mode), r < 0)
ZRT_WEAK int rmdir(const char *path) PUBLISH_ERRNO(int, rmdir_impl(path), r < 0)
ZRT_WEAK unsigned sleep(unsigned seconds) PUBLISH_ERRNO(unsigned, sleep_impl(seconds), r != 0)
ZRT_WEAK int fdatasync(int fd) PUBLISH_ERRNO(int, fsync_impl(fd), r < 0)
ZRT_WEAK int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int arg = va_arg(ap, int); /* every command zrt knows takes an int (or nothing) */
  va_end(ap);
  PUBLISH_ERRNO(int, _fcntl(fd, cmd, arg), r < 0)
}
ZRT_WEAK int ioctl(int fd, unsigned long request, ...) PUBLISH_ERRNO(int, ioctl_impl(fd, request), r < 0)

/* ---------------------------------------------------------------------- */
/* Process and time */

static long long clock_seconds;

void _exit(int code) { zvm_exit(code); }

int _gettimeofday(struct timeval *tv, void *tz) {
  (void)tz;
  if (tv) {
    tv->tv_sec = (time_t)clock_seconds;
    tv->tv_usec = 0;
  }
  return 0;
}

clock_t _times(struct tms *buf) {
  if (buf) memset(buf, 0, sizeof *buf);
  return 0;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  if (pid == 1) _exit(128 + sig);
  errno = ESRCH;
  return -1;
}

static int nosys(void) {
  errno = ENOSYS;
  return -1;
}
int _unlink(const char *path) { return (void)path, nosys(); }
int _link(const char *a, const char *b) { return (void)a, (void)b, nosys(); }
int _mkdir(const char *path, int mode) { return (void)path, (void)mode, nosys(); }
int _fork(void) { return nosys(); }
int _wait(int *status) { return (void)status, nosys(); }
int _execve(const char *path, char *const argv[], char *const envp[]) { return (void)path, (void)argv, (void)envp, nosys(); }
/* Makes TO (free, or closed first) another descriptor of FROM's open file description. */
static int duplicate(int from, int to) {
  if (fds[to].kind != FD_FREE) release(&fds[to]);
  fds[to] = fds[from];
  fds[to].fd_flags = 0;
  fds[to].d->refs++;
  return to;
}

/* The lowest free descriptor at or above LOW. */
static int free_fd_from(int low) {
  for (int i = low; i < MAX_FDS; i++)
    if (fds[i].kind == FD_FREE) return i;
  errno = low < MAX_FDS ? EMFILE : EINVAL;
  return -1;
}

int dup(int fd) {
  if (!get_fd(fd)) return -1;
  int to = free_fd_from(0);
  return to < 0 ? -1 : duplicate(fd, to);
}

int dup2(int fd, int to) {
  if (!get_fd(fd)) return -1;
  if (to < 0 || to >= MAX_FDS) {
    errno = EBADF;
    return -1;
  }
  return to == fd ? to : duplicate(fd, to);
}

/*
 * fcntl (newlib's fcntl() reaches it with HAVE_FCNTL, libc.ts). Record
 * locks fail with EINVAL (nothing to lock against), other commands with ENOSYS; F_SETFL changes O_APPEND only, and
 * refuses what a channel cannot do (O_NONBLOCK, O_ASYNC: reads and writes
 * are always whole trap calls) rather than pretend.
 */
int _fcntl(int fd, int cmd, int arg) {
  struct fd *f = get_fd(fd);
  if (!f) return -1;
  switch (cmd) {
  case F_DUPFD:
  case F_DUPFD_CLOEXEC: {
    if (arg < 0) {
      errno = EINVAL;
      return -1;
    }
    int to = free_fd_from(arg);
    if (to < 0) return -1;
    duplicate(fd, to);
    if (cmd == F_DUPFD_CLOEXEC) fds[to].fd_flags = FD_CLOEXEC;
    return to;
  }
  case F_GETFD:
    return f->fd_flags;
  case F_SETFD:
    f->fd_flags = arg & FD_CLOEXEC;
    return 0;
  case F_GETFL:
    return f->d->flags;
  case F_SETFL:
    /* As Linux: the access mode and creation flags in ARG are ignored. */
    if (arg & ~(O_ACCMODE | O_APPEND | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC)) {
      errno = EINVAL;
      return -1;
    }
    f->d->flags = (f->d->flags & ~O_APPEND) | (arg & O_APPEND);
    return 0;
  case F_GETLK:
  case F_SETLK:
  case F_SETLKW:
    /* record locks: no other process shares a file in a session */
    errno = EINVAL;
    return -1;
  default:
    return nosys();
  }
}

/* ---------------------------------------------------------------------- */
/* nvram: arguments, environment, mappings, mounts, time */

static char *nvram_text(void) {
  int ch = channel_by_alias("/dev/nvram");
  if (ch < 0) return 0;
  int64_t size = channels[ch].size;
  if (size <= 0 || size > (1 << 24)) return 0;
  char *text = malloc((size_t)size + 1);
  if (!text) return 0;
  int64_t got = 0;
  while (got < size) {
    int32_t r = channel_read(ch, text + got, (uint32_t)(size - got), got);
    if (r <= 0) break;
    got += r;
  }
  text[got] = 0;
  return text;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes \xHH escapes in place. */
static void unescape(char *s) {
  char *out = s;
  for (char *in = s; *in;) {
    if (in[0] == '\\' && in[1] == 'x' && hexval(in[2]) >= 0 && hexval(in[3]) >= 0) {
      *out++ = (char)(hexval(in[2]) * 16 + hexval(in[3]));
      in += 4;
    } else {
      *out++ = *in++;
    }
  }
  *out = 0;
}

static char *strip(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
  *e = 0;
  return s;
}

/* The value of KEY in a "k=v,k=v" record (modified in place), or 0. */
static char *field(char *record, const char *key) {
  size_t klen = strlen(key);
  for (char *item = record; item;) {
    char *next = strchr(item, ',');
    char *eq = strchr(item, '=');
    if (eq && (!next || eq < next)) {
      char *k = item;
      while (*k == ' ' || *k == '\t') k++;
      char *kend = eq;
      while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t')) kend--;
      if ((size_t)(kend - k) == klen && strncasecmp(k, key, klen) == 0) {
        char *v = eq + 1;
        size_t vlen = next ? (size_t)(next - v) : strlen(v);
        char *copy = malloc(vlen + 1);
        memcpy(copy, v, vlen);
        copy[vlen] = 0;
        return strip(copy);
      }
    }
    item = next ? next + 1 : 0;
  }
  return 0;
}

/* main's arguments, from the nvram's [args]; crt0.S passes them to main. */
int __zrt_argc;
char **__zrt_argv;
static int envc;

static void add_arg(char *arg) {
  __zrt_argv = realloc(__zrt_argv, (__zrt_argc + 2) * sizeof *__zrt_argv);
  unescape(arg);
  __zrt_argv[__zrt_argc++] = arg;
  __zrt_argv[__zrt_argc] = 0;
}

static void parse_args(char *value) {
  char *p = value;
  while (*p) {
    while (*p == ' ' || *p == '\t') p++;
    if (!*p) break;
    char *start;
    if (*p == '"') {
      start = ++p;
      while (*p && *p != '"') p++;
    } else {
      start = p;
      while (*p && *p != ' ' && *p != '\t') p++;
    }
    char *arg = malloc((size_t)(p - start) + 1);
    memcpy(arg, start, (size_t)(p - start));
    arg[p - start] = 0;
    add_arg(arg);
    if (*p == '"') p++;
  }
}

static void parse_nvram(char *text) {
  char section[16] = "";
  for (char *line = text; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = 0;
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *l = strip(line);
    if (l[0] == '[') {
      char *close = strchr(l, ']');
      if (close) {
        *close = 0;
        strncpy(section, strip(l + 1), sizeof section - 1);
      }
    } else if (*l) {
      if (strcmp(section, "args") == 0) {
        char *v = field(l, "args");
        if (v) parse_args(v);
      } else if (strcmp(section, "env") == 0) {
        char *name = field(l, "name"), *value = field(l, "value");
        if (name && value) {
          unescape(value);
          char *pair = malloc(strlen(name) + strlen(value) + 2);
          strcpy(pair, name);
          strcat(pair, "=");
          strcat(pair, value);
          environ = realloc(environ, (envc + 2) * sizeof *environ);
          environ[envc++] = pair;
          environ[envc] = 0;
        }
      } else if (strcmp(section, "mapping") == 0) {
        char *ch = field(l, "channel"), *mode = field(l, "mode");
        int i = ch ? channel_by_alias(ch) : -1;
        if (i >= 0 && mode)
          channel_modes[i] = strcmp(mode, "pipe") == 0 ? MODE_PIPE : strcmp(mode, "char") == 0 ? MODE_CHAR : strcmp(mode, "file") == 0 ? MODE_FILE : MODE_DEFAULT;
      } else if (strcmp(section, "fstab") == 0) {
        char *ch = field(l, "channel"), *mount = field(l, "mountpoint"), *access = field(l, "access");
        int i = ch ? channel_by_alias(ch) : -1;
        if (i >= 0 && mount && (!access || strcmp(access, "ro") == 0)) {
          char *m = absolute("", mount);
          if (m) mount_image(i, strcmp(m, "/") == 0 ? "" : m);
        }
      } else if (strcmp(section, "time") == 0) {
        char *s = field(l, "seconds");
        if (s) clock_seconds = strtoll(s, 0, 10);
      }
    }
    line = next;
  }
}

/*
 * The C library's set-up, called by crt0.S's _start before main (and by a
 * program with its own _start that wants stdio, argv or the heap). main is
 * called from crt0.S, not here: a program linked with -nostartfiles that
 * uses the library needs no main.
 */
void __zrt_init(void) {
  manifest = (const struct zvm_manifest *)(uintptr_t) * (volatile uint32_t *)(uintptr_t)MANIFEST_POINTER;
  channels = manifest->channels;
  heap_end = (uintptr_t)manifest->heap_ptr;
  heap_limit = heap_end + manifest->heap_size;
  for (int i = 0; i < 3 && i < manifest->channels_count; i++) fds[i] = (struct fd){FD_CHANNEL, i, new_description(i == 0 ? O_RDONLY : O_WRONLY, 0), 0, 0};
  channel_modes = calloc((size_t)manifest->channels_count + 1, 1);
  channel_ends = calloc((size_t)manifest->channels_count + 1, sizeof *channel_ends);
  channel_starts = calloc((size_t)manifest->channels_count + 1, sizeof *channel_starts);
  take_channel_sizes(0);
  cwd = strdup("/");
  static char *empty_env[1];
  environ = 0;
  char *text = nvram_text();
  if (text) parse_nvram(text);
  if (!environ) environ = empty_env;
  if (__zrt_argc == 0) add_arg(strdup("program"));
  __libc_init_array();
}
