/*
 * The descriptor and file-system calls zrt added for SQLite's unix VFS,
 * each with its result and errno (test/toolchain/zrt-calls.test.ts gives
 * the session: /data/ro.txt in a read-only image at '/', a random
 * read/write channel aliased /data/rw.bin holding "0123456789", and a
 * sequential output channel /dev/out).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static void show(const char *what, long r) { printf("%s = %ld%s%s\n", what, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : ""); }

int main(void) {
  char buf[64], cwd[8];
  struct stat st;
  errno = 0;
  printf("getcwd = %s\n", getcwd(cwd, sizeof cwd));
  const char *small = getcwd(cwd, 1) ? "?" : "null";
  printf("getcwd(small) = %s %s\n", small, strerror(errno));
  show("geteuid", (long)geteuid());

  int ro = open("/data/ro.txt", O_RDONLY);
  show("open ro", ro);
  show("open ro O_RDWR", open("/data/ro.txt", O_RDWR));
  memset(buf, 0, sizeof buf);
  show("pread ro @6", pread(ro, buf, 5, 6));
  printf("  bytes: %s\n", buf);
  show("pread ro past end", pread(ro, buf, 5, 1000));
  show("lseek ro (pread leaves it)", lseek(ro, 0, SEEK_CUR));
  show("pwrite ro", pwrite(ro, "x", 1, 0));
  show("ftruncate ro", ftruncate(ro, 0));
  show("fchmod ro", fchmod(ro, 0600));
  show("fcntl F_GETFL ro", fcntl(ro, F_GETFL));
  show("fcntl F_GETFD", fcntl(ro, F_GETFD));
  show("fcntl F_SETFD", fcntl(ro, F_SETFD, FD_CLOEXEC));
  show("fcntl F_GETFD after", fcntl(ro, F_GETFD));
  show("fcntl F_SETLK", fcntl(ro, F_SETLK, 0));
  show("ioctl", ioctl(ro, 0x5401));
  show("ioctl bad fd", ioctl(40, 0x5401));
  show("fsync ro", fsync(ro));
  show("fsync bad fd", fsync(41));
  int dup = fcntl(ro, F_DUPFD, 10);
  show("fcntl F_DUPFD 10", dup);
  show("pread dup @0", pread(dup, buf, 5, 0));
  close(dup);
  close(ro);

  show("access ro R_OK", access("/data/ro.txt", R_OK));
  show("access ro W_OK", access("/data/ro.txt", W_OK));
  show("access missing", access("/data/none", F_OK));
  show("access rw R_OK|W_OK", access("/data/rw.bin", R_OK | W_OK));
  show("access /dev/out R_OK", access("/dev/out", R_OK));
  show("lstat ro", lstat("/data/ro.txt", &st));
  printf("  regular %d size %ld\n", S_ISREG(st.st_mode), (long)st.st_size);
  show("lstat dir", lstat("/data", &st));
  printf("  dir %d\n", S_ISDIR(st.st_mode));
  show("readlink ro", readlink("/data/ro.txt", buf, sizeof buf));
  show("readlink missing", readlink("/data/none", buf, sizeof buf));
  show("rmdir /data", rmdir("/data"));
  show("rmdir missing", rmdir("/nowhere"));
  show("mkdir", mkdir("/data/new", 0755));
  show("utimes ro", utimes("/data/ro.txt", 0));
  show("utimes missing", utimes("/nowhere", 0));

  int rw = open("/data/rw.bin", O_RDWR);
  show("open rw", rw);
  show("fcntl F_GETFL rw", fcntl(rw, F_GETFL));
  show("fstat rw", fstat(rw, &st));
  printf("  size %ld\n", (long)st.st_size);
  show("pwrite rw @8", pwrite(rw, "ABCD", 4, 8));
  show("fstat rw", fstat(rw, &st));
  printf("  size %ld\n", (long)st.st_size);
  show("lseek rw SEEK_END", lseek(rw, 0, SEEK_END));
  show("write rw", write(rw, "xy", 2));
  show("fstat rw", fstat(rw, &st));
  printf("  size %ld\n", (long)st.st_size);
  show("ftruncate rw 20", ftruncate(rw, 20));
  show("fstat rw", fstat(rw, &st));
  printf("  size %ld\n", (long)st.st_size);
  show("ftruncate rw 20 again", ftruncate(rw, 20));
  show("ftruncate rw 5 (shrink)", ftruncate(rw, 5));
  memset(buf, 0, sizeof buf);
  show("pread rw @6", pread(rw, buf, 8, 6));
  printf("  bytes: %s\n", buf);
  show("pread rw at the end", pread(rw, buf, 8, 20));
  show("read rw at the end", (lseek(rw, 0, SEEK_END), read(rw, buf, 8)));
  show("fsync rw", fsync(rw));
  show("fchown rw", fchown(rw, 0, 0));
  close(rw);

  int out = open("/dev/out", O_WRONLY);
  show("pwrite sequential", pwrite(out, "z", 1, 0));
  show("pread sequential", pread(out, buf, 1, 0));
  close(out);
  show("sleep(3) left", (long)sleep(3));
  return 0;
}
