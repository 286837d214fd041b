/*
 * One session's sandbox: the 4 GiB of guest memory between two 40 GiB guard
 * areas, the trampoline, the run context and the watchdog timer.
 *
 * Pipeline position: addon.cc (Node-API glue) -> here -> switch.S and
 * signals.cc. No Node-API types in this file: it is the engine's core.
 *
 * Source of truth: spec/runtime.md ("Memory map", "Initial state", "The
 * register state after a trap", "Engines"), and the engine contract in src/runtime/engine.ts.
 */
#ifndef ZEROVM_NATIVE_SANDBOX_H
#define ZEROVM_NATIVE_SANDBOX_H

#include <time.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "context.h"
#include "memory_image.h"
#include "page_spans.h"
#include "sandbox_rules.h"

namespace zvm {

/* The sandbox's shape and protection rules: sandbox_rules.h. */
constexpr uint64_t kGuardSize = uint64_t{40} << 30;

/* The reserved address range, and a record of what its pages are in the
 * kernel (page_spans.h). Shared with the external ArrayBuffers that alias
 * guest memory, so the memory outlives whichever goes last.
 *
 * Every change to the sandbox's pages goes through here and is recorded,
 * so the record is exact; after a failed system call it is not trusted
 * and the next reset maps the whole sandbox afresh. */
class Reservation {
 public:
  /* Pages a reset restores in place at most (16 MiB); beyond, it drops
   * them: copying back more than a request wrote in a burst costs more
   * than the faults it saves, and they would stay resident. */
  static constexpr uint64_t kMaxRestoredPages = 4096;

  /* Reserves; on failure `base()` is null and `error()` says why. */
  Reservation();
  ~Reservation();
  Reservation(const Reservation &) = delete;
  Reservation &operator=(const Reservation &) = delete;
  uint8_t *base() const { return base_; }
  const std::string &error() const { return error_; }
  void Release();
  /*
   * Makes the sandbox ready for another session: every page a session
   * could reach reads as zeros (anonymous memory) or as its memory image's
   * bytes (MADV_DONTNEED drops a private mapping's pages: an anonymous one
   * reads as zeros again, a memory image's as the image). Pages of an
   * image that the session copied (wrote) and that are still writable are
   * instead overwritten with the image's bytes and kept (restore in
   * place, at most kMaxRestoredPages): the next request of the same
   * snapshot finds them mapped and writable, and takes no fault to read
   * or write them. Which pages were copied, the kernel says
   * (/proc/self/pagemap: present and not the file's page). Protections and
   * mappings stay as they are, recorded: the next session's Sync changes
   * only those it does not want. Falls back to mapping every page but the
   * trampoline's afresh (PROT_NONE) when the record is not trusted or
   * madvise fails. Returns an error message (empty: done).
   */
  std::string Reset();
  /* Makes the pages of [start, end) what `want` says (protection and
   * backing), with a system call for each run of pages that differ. A page
   * `want` backs with an image must have been mapped by MapImage first. */
  std::string Sync(const PageSpans &want, uint64_t start, uint64_t end);
  /* Puts a range of `image` at its own sandbox address, copy-on-write;
   * when the range already holds that image, untouched since the last
   * reset, keeps it (its protection is Sync's to change). */
  std::string MapImage(const MemoryImage &image, uint64_t address, uint64_t size, int host_protection);
  /* Whether the record holds memory image `serial` somewhere / any image. */
  bool Holds(uint64_t serial) const;
  bool HoldsAnImage() const;
  /* A session may reach [start, end): the next reset drops its pages. */
  void NoteReachable(uint64_t start, uint64_t end);
  /* Writes the trampoline's code (once per reservation). */
  std::string WriteTrampoline();
  bool trampoline_written() const { return trampoline_written_; }

 private:
  std::string RemapAll();
  /* The bytes of the image a span of the record holds, or nullptr. */
  const ImageBytes *ImageOf(uint64_t backing) const;
  /* Forgets the bytes of images no span of the record holds any more. */
  void PruneImages();
  /* Reset's work on one span of an image: restores the copied pages of its
   * extents in place where it can, and adds to `drop` what must go. */
  void RestoreInPlace(const PageSpan &span, const ImageBytes &bytes, uint64_t *budget,
                      std::vector<std::pair<uint64_t, uint64_t>> *drop);

  uint8_t *start_ = nullptr;  // the low guard's first byte
  uint64_t length_ = 0;
  uint8_t *base_ = nullptr;
  bool trampoline_written_ = false;
  std::string error_;
  PageSpans pages_;
  /* The record matches the kernel (false after a failed system call). */
  bool known_ = true;
  /* Sessions since the reservation was made: an image's span mapped in an
   * earlier one was reset since (HoldsEarlier). */
  uint64_t session_ = 1;
  /* What this session could reach, as ranges [first, second) (several:
   * one madvise over the hole between a program and its stack costs more
   * than one per range). */
  std::vector<std::pair<uint64_t, uint64_t>> reach_;
  void MergeReach();
  /* The bytes of each image the record holds, by serial (restore in place). */
  std::vector<std::pair<uint64_t, std::shared_ptr<const ImageBytes>>> images_;
};

/* This thread's counts: pages its resets restored in place and copies
 * they dropped (Reservation::Reset), and sessions given a kept
 * reservation that held the image they said they would map
 * (AcquireReservation): what tests check to prove the reuse happened. */
struct ReuseCounts {
  uint64_t restored = 0;
  uint64_t dropped_copies = 0;
  uint64_t adopted = 0;
};
ReuseCounts ThreadReuseCounts();

/* A reservation for a new session. A thread keeps the reservations of the
 * sessions it disposed, reset, up to kSpareReservations (the least
 * recently used released first): that saves each session reserving and
 * releasing 84 GiB of address space and writing the trampoline, and a
 * reservation that holds a memory image keeps what the image's pages
 * cost to map and to restore (Reset). The choice: one that holds the
 * image `will_map` (a serial; kAnonymousBacking for none) when there is
 * one; else one that holds no image; else a new one while fewer than
 * kSpareReservations (SetSpareReservations) are kept; else the least recently used. So a cold
 * session between two warm requests of a snapshot does not take the
 * snapshot's pages from the second (spec/runtime.md "Reservation"). */
constexpr size_t kSpareReservations = 4;
std::shared_ptr<Reservation> AcquireReservation(uint64_t will_map);
/* How many reservations a thread keeps (default kSpareReservations; 1
 * keeps one, the last session's, whatever it held; 0 keeps none). For
 * every thread of the process, from its next session on. */
void SetSpareReservations(size_t count);

class Sandbox {
 public:
  explicit Sandbox(std::shared_ptr<Reservation> memory);
  ~Sandbox();
  Sandbox(const Sandbox &) = delete;
  Sandbox &operator=(const Sandbox &) = delete;

  uint8_t *base() const { return memory_->base(); }
  const std::shared_ptr<Reservation> &memory() const { return memory_; }

  /* Returns an error message (empty: done). Until the session first runs,
   * protections and image mappings are recorded and the system calls
   * wait for Sync (or Start, LoadTrapContext), so that those the
   * reservation already has cost none; after, they apply at once. */
  std::string Protect(uint64_t address, uint64_t size, int protection);
  /* Applies what the session asked for over [address, address + size):
   * before host code touches those pages (views of guest memory). */
  std::string Sync(uint64_t address, uint64_t size);
  /* Each returns a ZVM_STOP_* kind, or 0 with `error` set. */
  int Start(uint64_t entry, double budget_ms, std::string *error);
  int Resume(int32_t result, double budget_ms, std::string *error);
  /* Warm starts (sandbox_rules.h, TrapContextWord): after a trap stop,
   * copies the untrusted state into `out`; before a session has run (its
   * regions mapped, the trampoline written), takes such a state, moved to
   * this sandbox's base, as if it had stopped at that trap. Each returns an
   * error message (empty: done). */
  std::string SaveTrapContext(uint64_t *out) const;
  std::string LoadTrapContext(const uint64_t *in);
  /* Before the session runs: maps a range of a snapshot's memory image over
   * the sandbox copy-on-write, with `protection` (memory_image.h). */
  std::string MapImage(const MemoryImage &image, uint64_t address, uint64_t size, int protection);
  /* Stops the watchdog; with release_memory, the caller has detached every
   * alias of the sandbox: it is reset and kept for this thread's next
   * session (AcquireReservation), or unmapped now. Idempotent. */
  void Dispose(bool release_memory);

  /* After a trap: %edi and the (bundle-aligned, 32-bit) return address. */
  uint32_t trap_args() const { return static_cast<uint32_t>(ctx_->u_rdi); }
  uint32_t trap_return() const { return ReturnAddress(); }
  /* After a fault: the signal and the sandbox address of the instruction. */
  uint32_t fault_signal() const { return ctx_->stop_signal; }
  uint32_t fault_pc() const { return static_cast<uint32_t>(ctx_->stop_pc - ctx_->u_r15); }

 private:
  enum class State { kReady, kInTrap, kStopped, kDisposed };
  int Run(double budget_ms, std::string *error);
  bool ArmTimer(double budget_ms);
  void DisarmTimer();
  /* Before the program first runs: every page as the session asked. */
  std::string SyncAll();
  uint32_t ReturnAddress() const {
    return static_cast<uint32_t>(ctx_->u_ret) & ~uint32_t{31};
  }

  std::shared_ptr<Reservation> memory_;
  ZvmContext *ctx_;
  State state_ = State::kReady;
  /* This session has made the trampoline accessible (its regions are mapped). */
  bool trampoline_mapped_ = false;
  /* What this session has asked its pages to be (a fresh sandbox's at first). */
  PageSpans want_;
  /* The pages are as asked (the program has run): changes apply at once. */
  bool synced_ = false;
  int timer_tid_ = 0;
  bool timer_armed_ = false;
  int64_t armed_deadline_ns_ = 0;
};

/* Whether the CPU and OS have AVX state enabled (then ymm are cleared too). */
bool HostHasAvx();

}  // namespace zvm

#endif
