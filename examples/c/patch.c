/*
 * patch: random access to a file channel, the C twin of examples/patch.S.
 * Writes "ZeroVM" at byte offset 4 of /dev/data, reads the first 16 bytes
 * back from offset 0 and copies them to stdout. Exit code 1 when a call
 * fails. The manifest gives the channel random reads and writes:
 *   Channel = data.bin, /dev/data, 3, 0, 99, 99, 99, 99
 */
#include <fcntl.h>
#include <unistd.h>

int main(void) {
  char buffer[16];
  int fd = open("/dev/data", O_RDWR);
  if (fd < 0) return 1;
  if (lseek(fd, 4, SEEK_SET) != 4 || write(fd, "ZeroVM", 6) != 6) return 1;
  if (lseek(fd, 0, SEEK_SET) != 0) return 1;
  ssize_t got = read(fd, buffer, sizeof buffer);
  if (got < 0 || write(1, buffer, (size_t)got) != got) return 1;
  return 0;
}
