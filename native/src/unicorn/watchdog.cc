/*
 * The watchdog thread (see watchdog.h). It sleeps until the earliest armed
 * deadline; entries whose deadline passed while their session was not
 * running are dropped, those still running are stopped and looked at again
 * 2 ms later. Everything happens under one mutex, which Remove() also takes,
 * so uc_emu_stop is never called on an engine being closed.
 */
#include "watchdog.h"

#include <algorithm>
#include <chrono>
#include <system_error>
#include <thread>

namespace zvm_uc {
namespace {

constexpr int64_t kRetryNs = 2 * 1000 * 1000;

}  // namespace

int64_t Watchdog::NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Watchdog *Watchdog::Instance(std::string *error) {
  static std::string start_error;
  /* Never destroyed: the thread is detached and lives as long as the process. */
  static Watchdog *instance = [] {
    auto *watchdog = new Watchdog();
    try {
      std::thread(&Watchdog::Loop, watchdog).detach();
    } catch (const std::system_error &e) {
      start_error = std::string("cannot start the watchdog thread: ") + e.what();
      delete watchdog;
      return static_cast<Watchdog *>(nullptr);
    }
    return watchdog;
  }();
  if (instance == nullptr) *error = start_error;
  return instance;
}

void Watchdog::Arm(WatchdogEntry *entry, int64_t deadline_ns) {
  bool earlier;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entry->deadline_ns = deadline_ns;
    if (!entry->listed) {
      entries_.push_back(entry);
      entry->listed = true;
    }
    earlier = deadline_ns < next_wake_ns_;
    if (earlier) next_wake_ns_ = deadline_ns;
  }
  if (earlier) wake_.notify_one();
}

void Watchdog::Remove(WatchdogEntry *entry) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!entry->listed) return;
  entries_.erase(std::remove(entries_.begin(), entries_.end(), entry), entries_.end());
  entry->listed = false;
}

void Watchdog::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    const int64_t now = NowNs();
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < entries_.size();) {
      WatchdogEntry *entry = entries_[i];
      if (entry->deadline_ns > now) {
        next = std::min(next, entry->deadline_ns);
        i++;
        continue;
      }
      if (entry->running.load()) {
        entry->fired.store(true);
        uc_emu_stop(entry->uc);
        next = std::min(next, now + kRetryNs);
        i++;
        continue;
      }
      /* Spent while the host handled a trap: the session re-arms on its next run. */
      entry->listed = false;
      entries_[i] = entries_.back();
      entries_.pop_back();
    }
    next_wake_ns_ = next;
    if (next == INT64_MAX) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next)));
    }
  }
}

}  // namespace zvm_uc
