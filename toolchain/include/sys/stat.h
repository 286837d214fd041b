/*
 * newlib's <sys/stat.h>, plus lstat(), which newlib declares only for a few
 * targets. zrt (toolchain/zrt/zrt.c) implements it: there are no symbolic
 * links in a session, so it is stat().
 */
#ifndef _ZEROVM_SYS_STAT_H
#define _ZEROVM_SYS_STAT_H
#include_next <sys/stat.h>
#ifdef __cplusplus
extern "C" {
#endif
int lstat(const char *__restrict __path, struct stat *__restrict __buf);
#ifdef __cplusplus
}
#endif
#endif
