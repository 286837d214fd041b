/*
 * zerovm.h: ZeroVM's own interface for programs built by `zerovm cc`, next
 * to the C library. The names follow the original's api/zvm.h, so programs
 * written for it port unchanged; the implementation is toolchain/zrt/zrt.c
 * over the one trap (spec/runtime.md, "The trap").
 *
 * Most programs never need it: stdio, open("/dev/ALIAS"), lseek, argv and
 * the environment already reach the channels. It is for what C's library
 * has no word for: positional reads and writes by channel number, making
 * generated code executable (TrapJail), and the user manifest.
 */
#ifndef ZEROVM_H
#define ZEROVM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A channel as the user manifest describes it (types as in the manifest). */
enum zvm_channel_type {
  ZVM_SEQUENTIAL_READ_SEQUENTIAL_WRITE = 0,
  ZVM_RANDOM_READ_SEQUENTIAL_WRITE = 1,
  ZVM_SEQUENTIAL_READ_RANDOM_WRITE = 2,
  ZVM_RANDOM_READ_RANDOM_WRITE = 3
};

struct zvm_channel {
  int64_t limits[4]; /* gets, get bytes, puts, put bytes */
  int64_t size;      /* bytes, for a file channel; 0 otherwise */
  uint32_t type;     /* enum zvm_channel_type */
  const char *name;  /* the alias, e.g. "/dev/stdin" */
};

struct zvm_manifest {
  void *heap_ptr;
  uint32_t heap_size;
  uint32_t stack_size;
  int32_t channels_count;
  const struct zvm_channel *channels;
};

/* The user manifest, which the runtime places below the stack. */
const struct zvm_manifest *zvm_manifest(void);

/* TrapRead / TrapWrite on channel number `channel` (0 stdin, 1 stdout,
 * 2 stderr, then the manifest's order). `offset` is used by random-access
 * channels and ignored by sequential ones. Bytes moved, or -errno. */
int32_t zvm_pread(int channel, void *buffer, int32_t size, int64_t offset);
int32_t zvm_pwrite(int channel, const void *buffer, int32_t size, int64_t offset);

/* TrapJail: validate the heap block at `buffer` (64 KiB aligned; `size`
 * rounded up to 64 KiB) as code and make it read-only and executable. 0, or
 * -EINVAL (not a heap block), -EACCES (not readable), -EPERM (the validator
 * refused it). Call into it through a function pointer: the masked call
 * lands on a bundle start, as every entry must. TrapUnjail: make such a
 * block writable (and not executable) again. */
int32_t zvm_jail(const void *buffer, int32_t size);
int32_t zvm_unjail(const void *buffer, int32_t size);

/* TrapExit without the C library's exit handlers or stream flushing. */
__attribute__((noreturn)) void zvm_exit(int32_t code);

/* TrapFork: daemon mode. Without a Job in the manifest it returns 0 and the
 * program goes on. With one (or under Program.fork) the set-up session
 * ends here, and every request session starts from this point, where it
 * returns 0 (spec/runtime.md "Daemon mode"). */
int32_t zvm_fork(void);

#ifdef __cplusplus
}
#endif

#endif
