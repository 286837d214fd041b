/*
 * The time budget of Unicorn sessions: one watchdog thread per process stops
 * an emulation (uc_emu_stop) whose deadline has passed. The guest is never
 * trusted to stop by itself, and uc_emu_start's own timeout is not used: it
 * starts and joins a thread on every call, which a trap round trip cannot
 * afford.
 *
 * Pipeline position: emulator.cc (Run) -> here.
 *
 * The hot path costs no system call: a session arms its deadline once and
 * keeps it across traps (the runtime resumes with what is left of the same
 * deadline, and a deadline within 1 ms of the armed one is the same). While
 * the session runs, `running` is set; when the deadline passes, the
 * watchdog calls uc_emu_stop and sets `fired`, and repeats every 2 ms while
 * the same run goes on (a stop that lands while uc_emu_start is still
 * entering or already leaving is lost; the next one is not). A deadline that
 * passes while the host handles a trap stops nothing: the runtime's next
 * budget is then zero or less, and a resume with no budget times out at once.
 */
#ifndef ZEROVM_UNICORN_WATCHDOG_H
#define ZEROVM_UNICORN_WATCHDOG_H

#include <unicorn/unicorn.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace zvm_uc {

/* One session's registration. The session owns it and must Remove() it
 * before closing its engine. */
struct WatchdogEntry {
  explicit WatchdogEntry(uc_engine *engine) : uc(engine) {}
  uc_engine *const uc;
  /* Set by the session around uc_emu_start. */
  std::atomic<bool> running{false};
  /* Set by the watchdog when it stopped this run for its deadline. */
  std::atomic<bool> fired{false};
  /* Guarded by the watchdog's mutex. */
  int64_t deadline_ns = 0;
  bool listed = false;
};

class Watchdog {
 public:
  /* The process's watchdog; its thread starts on first use. Null with
   * `error` set if the thread cannot be started. */
  static Watchdog *Instance(std::string *error);

  /* Stops `entry`'s runs from `deadline_ns` (steady clock) on. */
  void Arm(WatchdogEntry *entry, int64_t deadline_ns);
  /* Forgets `entry`; after this returns the watchdog never touches it. */
  void Remove(WatchdogEntry *entry);

  static int64_t NowNs();

 private:
  Watchdog() = default;
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<WatchdogEntry *> entries_;
  /* When the thread wakes next (steady clock), guarded by mutex_. */
  int64_t next_wake_ns_ = INT64_MAX;
};

}  // namespace zvm_uc

#endif
