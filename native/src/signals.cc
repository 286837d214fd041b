/*
 * Signal handling for the native engine (see signals.h).
 *
 * A signal is ours when the thread it hits is running a session (the
 * thread-local `g_running` is set) and the interrupted %rip lies inside that
 * session's 4 GiB sandbox (the trampoline included). Then the handler records
 * the stop in the context and rewrites the interrupted register state so
 * that returning from the handler lands in zvm_return_to_host on the host
 * stack: no siglongjmp, the kernel's sigreturn does the switch. The signal
 * mask it restores is the one the program ran with, which is the host's.
 *
 * Anything else goes to the handler installed before ours, the way that
 * handler asked to be called (SA_SIGINFO or not); SIG_DFL is reinstated and
 * the signal raised again, SIG_IGN ignores sent signals (a kernel-generated
 * fault cannot be ignored: like the kernel, we fall back to the default).
 *
 * The timeout signal counts only when it comes from the running session's
 * own timer (its value is the context pointer, compared and never
 * followed). Landing in the sandbox it is a timeout stop; landing in the
 * switch code (entering or leaving), the handler re-arms the timer 2 ms
 * later, so it is eventually caught in the sandbox. Any other timeout
 * signal (a spent timer of a session that is not running) is ignored.
 */
#include "signals.h"

#include "trampoline.h"

#include <asm/prctl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <ucontext.h>

#include <cstddef>
#include <mutex>

namespace zvm {
namespace {

constexpr uint64_t kSandboxSize = uint64_t{1} << 32;
constexpr greg_t kFlagTF = 0x100;
constexpr greg_t kFlagDF = 0x400;
constexpr greg_t kFlagAC = 0x40000;
constexpr size_t kAltStackSize = 256 * 1024;
constexpr size_t kMinAltStackSize = 64 * 1024;
constexpr long kRetryNs = 2 * 1000 * 1000;

const int kFaultSignals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};

/*
 * The block the trampoline's slot 0 reads through %gs (trampoline.h): the
 * running session's context and where to jump. One per thread, and %gs
 * points at it (PrepareThread). Initial-exec TLS, so the signal handler
 * reads `running` without any allocation.
 */
struct GsBlock {
  ZvmContext *running;
  const void *trap_exit;
};
static_assert(offsetof(GsBlock, running) == kGsRunning, "trampoline.h");
static_assert(offsetof(GsBlock, trap_exit) == kGsTrapExit, "trampoline.h");
__thread GsBlock g_gs_block __attribute__((tls_model("initial-exec"))) = {nullptr, nullptr};

struct sigaction g_previous[NSIG];
std::once_flag g_install_once;
const char *g_install_error = nullptr;

bool IsSynchronousFault(int sig, const siginfo_t *info) {
  return sig != TimeoutSignal() && info != nullptr && info->si_code > 0;
}

/* Hands the signal to whoever had it before us. */
void Chain(int sig, siginfo_t *info, void *uc) {
  const struct sigaction &prev = g_previous[sig];
  if (prev.sa_flags & SA_SIGINFO) {
    if (prev.sa_sigaction != nullptr) prev.sa_sigaction(sig, info, uc);
    return;
  }
  if (prev.sa_handler == SIG_IGN && !IsSynchronousFault(sig, info)) return;
  if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, nullptr);
    /* Pending until this handler returns, then fatal at the interrupted
     * instruction (a re-executed fault would do too, but not an int3). */
    raise(sig);
    return;
  }
  prev.sa_handler(sig);
}

void Handler(int sig, siginfo_t *info, void *ucv) {
  /* The program may have set AC; C code here must not take alignment faults. */
  __asm__ volatile("pushfq\n\tandq $~0x40000, (%%rsp)\n\tpopfq" ::: "memory", "cc");
  const int saved_errno = errno;
  auto *uc = static_cast<ucontext_t *>(ucv);
  greg_t *regs = uc->uc_mcontext.gregs;
  ZvmContext *ctx = g_gs_block.running;
  const uint64_t pc = static_cast<uint64_t>(regs[REG_RIP]);
  const bool in_sandbox = ctx != nullptr && pc - ctx->u_r15 < kSandboxSize;
  if (sig == TimeoutSignal()) {
    /* Only the running session's own timer counts (the value is compared,
     * never followed). Any other is spent: its session re-arms on its next run. */
    if (ctx == nullptr || info == nullptr || info->si_code != SI_TIMER || info->si_value.sival_ptr != ctx) {
      errno = saved_errno;
      return;
    }
    if (!in_sandbox) {
      /* In the switch code: try again shortly (timer_settime is async-signal-safe). */
      if (ctx->timer_valid) {
        struct itimerspec retry;
        memset(&retry, 0, sizeof retry);
        retry.it_value.tv_nsec = kRetryNs;
        timer_settime(ctx->timer, 0, &retry, nullptr);
      }
      errno = saved_errno;
      return;
    }
  }
  if (in_sandbox) {
    if (sig == TimeoutSignal()) {
      ctx->stop_kind = ZVM_STOP_TIMEOUT;
    } else {
      ctx->stop_kind = ZVM_STOP_FAULT;
      ctx->stop_signal = static_cast<uint32_t>(sig);
      ctx->stop_pc = pc;
    }
    regs[REG_RIP] = reinterpret_cast<greg_t>(&zvm_return_to_host);
    regs[REG_RDI] = reinterpret_cast<greg_t>(ctx);
    regs[REG_RSP] = static_cast<greg_t>(ctx->host_rsp);
    regs[REG_EFL] &= ~(kFlagTF | kFlagDF | kFlagAC);
    errno = saved_errno;
    return;
  }
  const auto *p = reinterpret_cast<const char *>(pc);
  if (ctx != nullptr && sig == SIGTRAP && p >= zvm_exit_code_begin && p < zvm_exit_code_end) {
    /* Single-stepping into the exit path with the program's TF: drop it. */
    regs[REG_EFL] &= ~kFlagTF;
    errno = saved_errno;
    return;
  }
  Chain(sig, info, ucv);
  errno = saved_errno;
}

void InstallOnce() {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = &Handler;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaddset(&action.sa_mask, TimeoutSignal());
  for (int sig : kFaultSignals) {
    if (sigaction(sig, &action, &g_previous[sig]) != 0) {
      g_install_error = "sigaction failed for a fault signal";
      return;
    }
  }
  if (sigaction(TimeoutSignal(), &action, &g_previous[TimeoutSignal()]) != 0) {
    g_install_error = "sigaction failed for the timeout signal";
  }
}

/* One per thread that ever ran a session; gives back its stack at thread exit. */
struct AltStack {
  void *memory = nullptr;
  bool checked = false;
  ~AltStack() {
    if (memory == nullptr) return;
    stack_t off;
    memset(&off, 0, sizeof off);
    off.ss_flags = SS_DISABLE;
    sigaltstack(&off, nullptr);
    munmap(memory, kAltStackSize);
  }
};
thread_local AltStack t_alt_stack;

}  // namespace

int TimeoutSignal() { return SIGRTMIN + 6; }

const char *InstallSignalHandlers() {
  std::call_once(g_install_once, InstallOnce);
  return g_install_error;
}

const char *PrepareThread() {
  AltStack &alt = t_alt_stack;
  if (alt.checked) return nullptr;
  g_gs_block.trap_exit = reinterpret_cast<const void *>(&zvm_trap_exit);
  if (syscall(SYS_arch_prctl, ARCH_SET_GS, &g_gs_block) != 0) return "arch_prctl(ARCH_SET_GS) failed";
  sigset_t run_signals;
  sigemptyset(&run_signals);
  for (int sig : kFaultSignals) sigaddset(&run_signals, sig);
  sigaddset(&run_signals, TimeoutSignal());
  if (pthread_sigmask(SIG_UNBLOCK, &run_signals, nullptr) != 0) return "pthread_sigmask failed";
  stack_t current;
  if (sigaltstack(nullptr, &current) != 0) return "sigaltstack failed";
  if (!(current.ss_flags & SS_DISABLE) && current.ss_size >= kMinAltStackSize) {
    alt.checked = true;  // the thread has a big enough one already
    return nullptr;
  }
  void *memory = mmap(nullptr, kAltStackSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (memory == MAP_FAILED) return "cannot allocate a signal stack";
  stack_t stack;
  memset(&stack, 0, sizeof stack);
  stack.ss_sp = memory;
  stack.ss_size = kAltStackSize;
  if (sigaltstack(&stack, nullptr) != 0) {
    munmap(memory, kAltStackSize);
    return "sigaltstack failed";
  }
  alt.memory = memory;
  alt.checked = true;
  return nullptr;
}

void SetRunning(ZvmContext *ctx) {
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  g_gs_block.running = ctx;
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

}  // namespace zvm
