/*
 * Signal handling for the native engine: turns faults and the watchdog's
 * signal in untrusted code into stops, and hands every other signal to the
 * handler that was there before (Node's and V8's, which uses SIGSEGV for
 * WebAssembly bounds checks).
 *
 * Pipeline position: sandbox.cc runs untrusted code between SetRunning(ctx)
 * and SetRunning(nullptr); the handler reads that thread-local pointer.
 */
#ifndef ZEROVM_NATIVE_SIGNALS_H
#define ZEROVM_NATIVE_SIGNALS_H

#include <stdint.h>

#include "context.h"

namespace zvm {

/* The realtime signal the watchdog timer sends to the running thread. */
int TimeoutSignal();

/*
 * Installs the handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP and the
 * timeout signal, once per process (later calls do nothing). Returns an
 * error message, or nullptr.
 */
const char *InstallSignalHandlers();

/*
 * Once per thread: points %gs at the thread's block that the trampoline
 * reads (trampoline.h), gives it an alternate signal stack if it has none (the
 * program's %rsp can point anywhere, so the kernel must not push a signal
 * frame there; freed when the thread exits), and unblocks the fault and
 * timeout signals (a blocked fault signal would kill the process). Returns
 * an error message, or nullptr.
 */
const char *PrepareThread();

/* Marks the calling thread as running `ctx` (nullptr: running none). */
void SetRunning(ZvmContext *ctx);

}  // namespace zvm

#endif
