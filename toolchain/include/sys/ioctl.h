/*
 * ioctl() for programs built by `zerovm cc`: a channel has no device
 * controls, so every request fails with ENOTTY (EBADF for a descriptor
 * that is not open); toolchain/zrt/zrt.c implements it. Declared because
 * portable code (SQLite's unix VFS) includes this header unconditionally.
 */
#ifndef _SYS_IOCTL_H
#define _SYS_IOCTL_H
#ifdef __cplusplus
extern "C" {
#endif
int ioctl(int fd, unsigned long request, ...);
#ifdef __cplusplus
}
#endif
#endif
