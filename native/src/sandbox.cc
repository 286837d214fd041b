/*
 * One session's sandbox (see sandbox.h): reservation, protections, the
 * trampoline, start/resume and the watchdog.
 *
 * Memory: one PROT_NONE, MAP_NORESERVE reservation of 40 GiB + 4 GiB +
 * 40 GiB, from 0x440000000000 (sandbox base 0x440A00000000, ZeroVM's) when
 * that range is free
 * (MAP_FIXED_NOREPLACE never clobbers a mapping), else at any 4 GiB-aligned
 * base. Any base + 32-bit index * 8 + 32-bit displacement of a validated
 * instruction stays inside it. Pages become accessible only through
 * Protect(); a page that is both writable and executable is refused (the
 * program could write code that was never validated), and so is a writable
 * trampoline. A disposed session's reservation is kept for the next session
 * of the same thread (a thread keeps one at most), reset first.
 *
 * Reuse without a fresh mapping per session: the reservation records what
 * each page is in the kernel (page_spans.h: protection, and anonymous
 * memory or which memory image). Reset drops the pages of everything the
 * session could reach (MADV_DONTNEED: zeros again, or the image's bytes
 * where an image is mapped), except the image pages the session copied
 * and may still write, which get the image's bytes back in place and stay
 * mapped (Reservation::Reset: the next warm request takes no fault on
 * them), and keeps protections and mappings. A new
 * session starts from a fresh sandbox's record of what it wants (all
 * inaccessible); its protections are recorded, not applied, until a view
 * of guest memory or the first run needs them, and then only the pages
 * whose protection or backing differs from the reservation's change (a
 * page that holds an image the session did not map there is mapped
 * afresh). So when a session has the last one's layout, as a server's
 * sessions of one program do, its set-up costs almost no system call, and
 * still it runs with exactly the pages it asked for: tests compare
 * /proc/self/maps with them (src/engines/native.test.ts). After a failed
 * system call the record is not trusted, and the next reset maps every
 * page afresh.
 *
 * The trampoline's slot 0 (sandbox 0x10000) holds the constant code of
 * trampoline.h: it reads the return address, loads the running context
 * from %gs:0 and jumps through %gs:8 to zvm_trap_exit. No host address is
 * written where the program can read it (ZeroVM's trampoline, by contrast,
 * held one as an immediate), and the bytes are the same in every process
 * and engine, so the memory etag is too. The rest of [0x10000, 0x20000) is
 * hlt.
 *
 * The return address is sandboxed on resume exactly as ZeroVM did: the low
 * 32 bits, rounded down to a 32-byte bundle, plus the base.
 *
 * Watchdog: a one-shot POSIX timer per session (CLOCK_MONOTONIC,
 * SIGEV_THREAD_ID to the thread that runs the session, the context as its
 * value), armed for the absolute deadline now + budget. No thread, no file
 * descriptor; deleted with the session. If the signal lands while the
 * thread is in the switch code, the handler re-arms it 2 ms later, so it
 * is eventually caught in the sandbox. After a trap the timer stays armed:
 * a resume whose deadline is the armed one (within 1 ms; the runtime passes
 * what is left of the session's time) costs no system call. Faults and
 * timeouts disarm it. If the deadline passes while the host handles a trap,
 * the signal arrives once and is ignored; the runtime's next budget is then
 * zero or less and resume() returns a timeout without running.
 */
#include "sandbox.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include "signals.h"
#include "trampoline.h"

namespace zvm {

static_assert(offsetof(ZvmContext, host_rsp) == CTX_HOST_RSP, "context layout");
static_assert(offsetof(ZvmContext, u_rbx) == CTX_U_RBX, "context layout");
static_assert(offsetof(ZvmContext, u_rbp) == CTX_U_RBP, "context layout");
static_assert(offsetof(ZvmContext, u_r12) == CTX_U_R12, "context layout");
static_assert(offsetof(ZvmContext, u_r13) == CTX_U_R13, "context layout");
static_assert(offsetof(ZvmContext, u_r14) == CTX_U_R14, "context layout");
static_assert(offsetof(ZvmContext, u_r15) == CTX_U_R15, "context layout");
static_assert(offsetof(ZvmContext, u_rsp) == CTX_U_RSP, "context layout");
static_assert(offsetof(ZvmContext, u_rax) == CTX_U_RAX, "context layout");
static_assert(offsetof(ZvmContext, u_rip) == CTX_U_RIP, "context layout");
static_assert(offsetof(ZvmContext, u_ret) == CTX_U_RET, "context layout");
static_assert(offsetof(ZvmContext, u_rdi) == CTX_U_RDI, "context layout");
static_assert(offsetof(ZvmContext, u_mxcsr) == CTX_U_MXCSR, "context layout");
static_assert(offsetof(ZvmContext, host_mxcsr) == CTX_HOST_MXCSR, "context layout");
static_assert(offsetof(ZvmContext, host_fcw) == CTX_HOST_FCW, "context layout");
static_assert(offsetof(ZvmContext, use_avx) == CTX_USE_AVX, "context layout");
static_assert(offsetof(ZvmContext, stop_kind) == CTX_STOP_KIND, "context layout");
static_assert(offsetof(ZvmContext, stop_signal) == CTX_STOP_SIGNAL, "context layout");
static_assert(offsetof(ZvmContext, stop_pc) == CTX_STOP_PC, "context layout");
static_assert(offsetof(ZvmContext, timer) == CTX_ASM_SIZE, "context layout");

namespace {

constexpr uint64_t kReservationSize = kGuardSize + kSandboxSize + kGuardSize;
constexpr int kReserveFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
/* Initial %rsp and %rbp: the top 56 bytes of the sandbox are the entry frame. */
constexpr uint64_t kInitialStack = kSandboxSize - 56;
constexpr uint32_t kDefaultMxcsr = 0x1F80;
/* A deadline this close to the armed one is the same deadline. */
constexpr int64_t kSameDeadlineNs = 1000 * 1000;
/* Longest budget honoured (about 31 years); larger ones are clamped. */
constexpr double kMaxBudgetMs = 1e12;

std::string Errno(const char *what) {
  return std::string(what) + ": " + strerror(errno);
}

thread_local int t_thread_id = 0;

int CurrentThreadId() {
  if (t_thread_id == 0) t_thread_id = static_cast<int>(syscall(SYS_gettid));
  return t_thread_id;
}

int64_t MonotonicNs() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

/* /proc/self/pagemap entry bits (the kernel's Documentation/admin-guide/mm/pagemap.rst). */
constexpr uint64_t kPagemapPresent = uint64_t{1} << 63;
constexpr uint64_t kPagemapSwapped = uint64_t{1} << 62;
constexpr uint64_t kPagemapFile = uint64_t{1} << 61;

/* This process's page map, opened once (-1 when the kernel does not let
 * us read it: resets then drop every page, as before restore in place). */
int PagemapFd() {
  static const int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  return fd;
}

thread_local ReuseCounts t_reuse_counts;

/* Appends [start, end) to sorted, disjoint ranges, merged with the last one when they touch. */
void AddRange(std::vector<std::pair<uint64_t, uint64_t>> *ranges, uint64_t start, uint64_t end) {
  if (start >= end) return;
  if (!ranges->empty() && ranges->back().second == start) {
    ranges->back().second = end;
  } else {
    ranges->emplace_back(start, end);
  }
}

int ToHostProtection(int protection) {
  int prot = PROT_NONE;
  if (protection & kProtRead) prot |= PROT_READ;
  if (protection & kProtWrite) prot |= PROT_WRITE;
  if (protection & kProtExec) prot |= PROT_EXEC;
  return prot;
}

}  // namespace

namespace {

bool DetectAvx() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const unsigned kOsxsave = 1u << 27, kAvx = 1u << 28;
  if ((ecx & (kOsxsave | kAvx)) != (kOsxsave | kAvx)) return false;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 6) == 6;  // the OS saves both xmm and ymm state
}

}  // namespace

bool HostHasAvx() {
  /* cpuid is slow in a virtual machine (it exits to the hypervisor): once per process */
  static const bool avx = DetectAvx();
  return avx;
}

Reservation::Reservation() {
  void *want = reinterpret_cast<void *>(kPreferredBase - kGuardSize);
  void *got = mmap(want, kReservationSize, PROT_NONE, kReserveFlags | MAP_FIXED_NOREPLACE, -1, 0);
  if (got != MAP_FAILED && got != want) {
    /* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
    munmap(got, kReservationSize);
    got = MAP_FAILED;
  }
  if (got != MAP_FAILED) {
    start_ = static_cast<uint8_t *>(got);
  } else {
    /* Over-reserve by 4 GiB, keep a 4 GiB-aligned window, give back the ends. */
    const uint64_t over = kReservationSize + kSandboxSize;
    void *any = mmap(nullptr, over, PROT_NONE, kReserveFlags, -1, 0);
    if (any == MAP_FAILED) {
      error_ = Errno("cannot reserve 84 GiB of address space for the sandbox (mmap)") +
               " (is the address space limited, e.g. by ulimit -v?)";
      return;
    }
    const uint64_t lo = reinterpret_cast<uint64_t>(any);
    const uint64_t base = (lo + kGuardSize + kSandboxSize - 1) & ~(kSandboxSize - 1);
    const uint64_t start = base - kGuardSize;
    if (start > lo) munmap(any, start - lo);
    const uint64_t end = start + kReservationSize;
    if (lo + over > end) munmap(reinterpret_cast<void *>(end), lo + over - end);
    start_ = reinterpret_cast<uint8_t *>(start);
  }
  length_ = kReservationSize;
  base_ = start_ + kGuardSize;
}

Reservation::~Reservation() { Release(); }

void Reservation::Release() {
  if (start_ == nullptr) return;
  munmap(start_, length_);
  start_ = nullptr;
  base_ = nullptr;
  length_ = 0;
}

std::string Reservation::RemapAll() {
  /* MAP_FIXED replaces whatever was there (pages the session wrote, ranges
   * of a memory image, their protections) in one step. */
  constexpr int kFlags = kReserveFlags | MAP_FIXED;
  reach_.clear();
  session_++;
  known_ = false;
  if (mmap(base_, kTrampolineStart, PROT_NONE, kFlags, -1, 0) == MAP_FAILED) return Errno("mmap");
  if (mmap(base_ + kTrampolineEnd, kSandboxSize - kTrampolineEnd, PROT_NONE, kFlags, -1, 0) == MAP_FAILED) return Errno("mmap");
  if (mprotect(base_ + kTrampolineStart, kTrampolineEnd - kTrampolineStart, PROT_NONE) != 0) return Errno("mprotect");
  pages_.Clear();
  images_.clear();
  known_ = true;
  return "";
}

std::string Reservation::Reset() {
  if (base_ == nullptr) return "the reservation is released";
  if (!known_) return RemapAll();
  /* The trampoline's pages are never dropped: they hold its code, and
   * nothing a session does can write them (sandbox_rules.h). */
  MergeReach();
  std::vector<std::pair<uint64_t, uint64_t>> drop;
  uint64_t budget = kMaxRestoredPages;
  for (const auto &[start, end] : reach_) {
    const uint64_t pieces[2][2] = {{start, std::min<uint64_t>(end, kTrampolineStart)}, {std::max<uint64_t>(start, kTrampolineEnd), end}};
    for (const auto &piece : pieces) {
      if (piece[0] >= piece[1]) continue;
      pages_.ForEach(piece[0], piece[1], [&](const PageSpan &span) {
        const ImageBytes *bytes = ImageOf(span.backing);
        if (bytes != nullptr) {
          RestoreInPlace(span, *bytes, &budget, &drop);
        } else {
          AddRange(&drop, span.start, span.end);
        }
      });
    }
  }
  for (const auto &[start, end] : drop) {
    if (madvise(base_ + start, end - start, MADV_DONTNEED) != 0) return RemapAll();
  }
  reach_.clear();
  session_++;
  return "";
}

const ImageBytes *Reservation::ImageOf(uint64_t backing) const {
  if (backing == kAnonymousBacking || backing == kTrampolineBacking) return nullptr;
  for (const auto &[serial, bytes] : images_) {
    if (serial == backing) return bytes.get();
  }
  return nullptr;
}

void Reservation::PruneImages() {
  std::vector<std::pair<uint64_t, std::shared_ptr<const ImageBytes>>> held;
  for (auto &image : images_) {
    bool used = false;
    for (const PageSpan &span : pages_.spans()) used = used || span.backing == image.first;
    if (used) held.push_back(std::move(image));
  }
  images_ = std::move(held);
}

void Reservation::RestoreInPlace(const PageSpan &span, const ImageBytes &bytes, uint64_t *budget,
                                 std::vector<std::pair<uint64_t, uint64_t>> *drop) {
  /* The pages looked at: the image's extents and kNeighbourhood pages on
   * each side (a request's new heap pages follow the snapshot's, its stack
   * pages precede them). The rest of the span is dropped whole: looking at
   * gigabytes of untouched holes page by page would cost more than it saves. */
  constexpr uint64_t kNeighbourhood = 64 * kPageSize;
  std::vector<std::pair<uint64_t, uint64_t>> look;
  for (const auto &[first, second] : bytes.extents()) {
    const uint64_t start = std::max(first > kNeighbourhood ? first - kNeighbourhood : 0, span.start);
    const uint64_t end = std::min(second + kNeighbourhood, span.end);
    if (start >= end) continue;
    if (!look.empty() && start <= look.back().second) {
      look.back().second = std::max(look.back().second, end);
    } else {
      look.emplace_back(start, end);
    }
  }
  const int pagemap = PagemapFd();
  const bool writable = (span.protection & PROT_WRITE) != 0;
  auto extent = bytes.extents().begin();
  uint64_t at = span.start;
  for (const auto &[start, end] : look) {
    AddRange(drop, at, start);
    at = end;
    if (pagemap < 0) {
      AddRange(drop, start, end);
      continue;
    }
    uint64_t entries[512];
    constexpr uint64_t kChunk = sizeof entries / sizeof entries[0];
    for (uint64_t chunk = start; chunk < end; chunk += kChunk * kPageSize) {
      const uint64_t pages = std::min<uint64_t>(kChunk, (end - chunk) / kPageSize);
      const uint64_t host = reinterpret_cast<uint64_t>(base_ + chunk);
      const ssize_t want = static_cast<ssize_t>(pages * sizeof entries[0]);
      if (pread(pagemap, entries, static_cast<size_t>(want), static_cast<off_t>(host / kPageSize * sizeof entries[0])) != want) {
        AddRange(drop, chunk, chunk + pages * kPageSize);
        continue;
      }
      for (uint64_t i = 0; i < pages; i++) {
        const uint64_t page = chunk + i * kPageSize;
        const uint64_t entry = entries[i];
        const bool present = (entry & kPagemapPresent) != 0;
        /* never touched, or the file's own page: it reads as the image */
        if ((entry & (kPagemapPresent | kPagemapSwapped)) == 0 || (present && (entry & kPagemapFile) != 0)) continue;
        /* a copy the session made: the image's bytes (zeros in a hole) back in place, or dropped */
        while (extent != bytes.extents().end() && extent->second <= page) ++extent;
        const bool in_extent = extent != bytes.extents().end() && extent->first <= page;
        const uint8_t *source = in_extent ? bytes.Page(page) : nullptr;
        if (present && writable && *budget > 0 && (source != nullptr || !in_extent)) {
          if (source != nullptr) {
            memcpy(base_ + page, source, kPageSize);
          } else {
            memset(base_ + page, 0, kPageSize);
          }
          --*budget;
          t_reuse_counts.restored++;
        } else {
          AddRange(drop, page, page + kPageSize);
          t_reuse_counts.dropped_copies++;
        }
      }
    }
  }
  AddRange(drop, at, span.end);
}

void Reservation::MergeReach() { MergeRanges(&reach_); }

void Reservation::NoteReachable(uint64_t start, uint64_t end) {
  if (start >= end) return;
  reach_.emplace_back(start, end);
  /* many protection changes (TrapJail in a loop): merged, and at worst one hull */
  if (reach_.size() > 256) {
    MergeReach();
    if (reach_.size() > 64) reach_.assign(1, {reach_.front().first, reach_.back().second});
  }
}

std::string Reservation::Sync(const PageSpans &want, uint64_t start, uint64_t end) {
  if (base_ == nullptr) return "the reservation is released";
  if (!known_) return "the sandbox's pages are in an unknown state after a failed system call";
  /* Runs of pages to change, each one system call: mapped afresh
   * (anonymous, zeros) where the backing differs, else re-protected. */
  struct Change {
    uint64_t start, end;
    int protection;
    bool remap;
  };
  std::vector<Change> changes;
  const char *refusal = nullptr;
  want.ForEach(start, end, [&](const PageSpan &wanted) {
    pages_.ForEach(wanted.start, wanted.end, [&](const PageSpan &has) {
      const bool remap = has.backing != wanted.backing;
      if (!remap && has.protection == wanted.protection) return;
      /* images are mapped by MapImage, the trampoline is never replaced */
      if (remap && (wanted.backing != kAnonymousBacking || has.backing == kTrampolineBacking)) {
        refusal = "internal error: a page's backing cannot be changed by a protection";
        return;
      }
      if (!changes.empty() && changes.back().end == has.start && changes.back().protection == wanted.protection && changes.back().remap == remap) {
        changes.back().end = has.end;
      } else {
        changes.push_back({has.start, has.end, wanted.protection, remap});
      }
    });
  });
  if (refusal != nullptr) return refusal;
  for (const Change &change : changes) {
    uint8_t *at = base_ + change.start;
    const uint64_t size = change.end - change.start;
    if (change.remap) {
      if (mmap(at, size, change.protection, kReserveFlags | MAP_FIXED, -1, 0) == MAP_FAILED) {
        known_ = false;
        return Errno("mmap");
      }
      pages_.Set(change.start, change.end, change.protection, kAnonymousBacking, 0);
      PruneImages();
    } else {
      if (mprotect(at, size, change.protection) != 0) {
        known_ = false;
        return Errno("mprotect");
      }
      pages_.SetProtection(change.start, change.end, change.protection);
    }
  }
  return "";
}

std::string Reservation::MapImage(const MemoryImage &image, uint64_t address, uint64_t size, int host_protection) {
  if (base_ == nullptr) return "the reservation is released";
  if (!known_) return "the sandbox's pages are in an unknown state after a failed system call";
  const uint64_t end = address + size;
  NoteReachable(address, end);
  if (pages_.HoldsEarlier(address, end, image.serial(), session_)) {
    /* The image is there, its copies dropped by the last reset: claimed
     * for this session (mapping it again in this session maps afresh). */
    std::vector<PageSpan> pieces;
    pages_.ForEach(address, end, [&](const PageSpan &piece) { pieces.push_back(piece); });
    for (const PageSpan &piece : pieces) pages_.Set(piece.start, piece.end, piece.protection, piece.backing, session_);
    return "";
  }
  const std::string error = image.MapAt(base_, address, size, host_protection);
  if (!error.empty()) {
    /* a failed MAP_FIXED may have unmapped the range */
    known_ = false;
    return error;
  }
  pages_.Set(address, end, host_protection, image.serial(), session_);
  if (ImageOf(image.serial()) == nullptr && image.bytes() != nullptr) images_.emplace_back(image.serial(), image.bytes());
  PruneImages();
  return "";
}

std::string Reservation::WriteTrampoline() {
  uint8_t *tramp = base_ + kTrampolineStart;
  const uint64_t size = kTrampolineEnd - kTrampolineStart;
  if (mprotect(tramp, size, PROT_READ | PROT_WRITE) != 0) {
    known_ = false;
    return Errno("mprotect");
  }
  memset(tramp, kTrampolineFill, size);
  memcpy(tramp, kTrapSlotCode, sizeof kTrapSlotCode);
  if (mprotect(tramp, size, PROT_NONE) != 0) {
    known_ = false;
    return Errno("mprotect");
  }
  pages_.SetProtection(kTrampolineStart, kTrampolineEnd, PROT_NONE);
  trampoline_written_ = true;
  return "";
}

namespace {

/* The reservations this thread's disposed sessions left, reset: least recently used first. */
thread_local std::vector<std::shared_ptr<Reservation>> t_spares;
std::atomic<size_t> g_spare_reservations{kSpareReservations};

/* Keeps `memory` for this thread's next sessions when it resets, else unmaps it. */
void RecycleReservation(std::shared_ptr<Reservation> memory) {
  if (memory->base() == nullptr || !memory->Reset().empty()) {
    memory->Release();
    return;
  }
  t_spares.push_back(std::move(memory));
  while (t_spares.size() > g_spare_reservations.load()) {
    t_spares.front()->Release();
    t_spares.erase(t_spares.begin());
  }
}

std::shared_ptr<Reservation> TakeSpare(size_t index) {
  std::shared_ptr<Reservation> taken = std::move(t_spares[index]);
  t_spares.erase(t_spares.begin() + static_cast<std::ptrdiff_t>(index));
  return taken;
}

}  // namespace

ReuseCounts ThreadReuseCounts() { return t_reuse_counts; }

void SetSpareReservations(size_t count) { g_spare_reservations.store(count); }

std::shared_ptr<Reservation> AcquireReservation(uint64_t will_map) {
  /* most recently used first */
  if (will_map != kAnonymousBacking) {
    for (size_t i = t_spares.size(); i-- > 0;) {
      if (t_spares[i]->Holds(will_map)) {
        t_reuse_counts.adopted++;
        return TakeSpare(i);
      }
    }
  }
  for (size_t i = t_spares.size(); i-- > 0;) {
    if (!t_spares[i]->HoldsAnImage()) return TakeSpare(i);
  }
  if (t_spares.empty() || t_spares.size() < g_spare_reservations.load()) return std::make_shared<Reservation>();
  return TakeSpare(0);
}

bool Reservation::Holds(uint64_t serial) const {
  for (const PageSpan &span : pages_.spans()) {
    if (span.backing == serial) return true;
  }
  return false;
}

bool Reservation::HoldsAnImage() const { return !images_.empty(); }

Sandbox::Sandbox(std::shared_ptr<Reservation> memory)
    : memory_(std::move(memory)), ctx_(new (std::align_val_t{64}) ZvmContext()) {
  ctx_->use_avx = HostHasAvx() ? 1 : 0;
  ctx_->u_r15 = reinterpret_cast<uint64_t>(memory_->base());
  ctx_->u_mxcsr = kDefaultMxcsr;
}

Sandbox::~Sandbox() {
  Dispose(false);
  ::operator delete(ctx_, std::align_val_t{64});
}

void Sandbox::Dispose(bool release_memory) {
  if (ctx_->timer_valid) {
    timer_delete(ctx_->timer);
    ctx_->timer_valid = 0;
  }
  timer_armed_ = false;
  /* Without release_memory the reservation goes with its last owner (an
   * ArrayBuffer that still aliases guest memory may be one). With it, every
   * alias is detached: the next session may have the memory at once. */
  if (release_memory && state_ != State::kDisposed) RecycleReservation(memory_);
  state_ = State::kDisposed;
}

std::string Sandbox::Protect(uint64_t address, uint64_t size, int protection) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (const char *refusal = ProtectionRefusal(address, size, protection)) return refusal;
  if (size == 0) return "";
  if (TouchesTrampoline(address, size) && protection != 0) {
    if (!memory_->trampoline_written()) {
      const std::string error = memory_->WriteTrampoline();
      if (!error.empty()) return error;
    }
    trampoline_mapped_ = true;
  }
  want_.SetProtection(address, address + size, ToHostProtection(protection));
  if (protection != 0) memory_->NoteReachable(address, address + size);
  return synced_ ? memory_->Sync(want_, address, address + size) : "";
}

std::string Sandbox::Sync(uint64_t address, uint64_t size) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (address > kSandboxSize || size > kSandboxSize - address) return "sync: the range leaves the 4 GiB sandbox";
  if (synced_ || size == 0) return "";
  const uint64_t start = address & ~(kPageSize - 1);
  const uint64_t end = (address + size + kPageSize - 1) & ~(kPageSize - 1);
  return memory_->Sync(want_, start, end);
}

std::string Sandbox::SyncAll() {
  if (synced_) return "";
  const std::string error = memory_->Sync(want_, 0, kSandboxSize);
  if (error.empty()) synced_ = true;
  return error;
}

int Sandbox::Start(uint64_t entry, double budget_ms, std::string *error) {
  if (state_ == State::kDisposed) {
    *error = "the session is disposed";
    return 0;
  }
  if (entry >= kSandboxSize || entry % 32 != 0) {
    *error = "start: the entry point must be a 32-byte aligned sandbox address";
    return 0;
  }
  if (const std::string sync = SyncAll(); !sync.empty()) {
    *error = sync;
    return 0;
  }
  const uint64_t base = reinterpret_cast<uint64_t>(this->base());
  ctx_->u_rbx = ctx_->u_r12 = ctx_->u_r13 = ctx_->u_r14 = 0;
  ctx_->u_rsp = ctx_->u_rbp = base + kInitialStack;
  ctx_->u_rax = 0;
  ctx_->u_rip = base + entry;
  ctx_->u_mxcsr = kDefaultMxcsr;
  return Run(budget_ms, error);
}

int Sandbox::Resume(int32_t result, double budget_ms, std::string *error) {
  if (state_ != State::kInTrap) {
    *error = state_ == State::kDisposed ? "the session is disposed"
                                        : "resume: the last stop was not a trap";
    return 0;
  }
  const uint64_t base = reinterpret_cast<uint64_t>(this->base());
  ctx_->u_rax = static_cast<uint64_t>(static_cast<int64_t>(result));
  ctx_->u_rip = base + ReturnAddress();
  return Run(budget_ms, error);
}

std::string Sandbox::SaveTrapContext(uint64_t *out) const {
  if (state_ != State::kInTrap) return "saveTrapContext: the last stop was not a trap";
  out[kCtxBase] = ctx_->u_r15;
  out[kCtxRbx] = ctx_->u_rbx;
  out[kCtxRbp] = ctx_->u_rbp;
  out[kCtxR12] = ctx_->u_r12;
  out[kCtxR13] = ctx_->u_r13;
  out[kCtxR14] = ctx_->u_r14;
  out[kCtxRsp] = ctx_->u_rsp;
  out[kCtxRet] = ctx_->u_ret;
  out[kCtxMxcsr] = ctx_->u_mxcsr;
  return "";
}

std::string Sandbox::LoadTrapContext(const uint64_t *in) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (state_ != State::kReady) return "loadTrapContext: the session has already run";
  if (!trampoline_mapped_) return "loadTrapContext: map the regions (and the trampoline) first";
  if (std::string error = SyncAll(); !error.empty()) return error;
  const uint64_t from = in[kCtxBase];
  const uint64_t to = ctx_->u_r15;
  ctx_->u_rbx = RebaseWord(in[kCtxRbx], from, to);
  ctx_->u_rbp = RebaseStackWord(in[kCtxRbp], to);
  ctx_->u_r12 = RebaseWord(in[kCtxR12], from, to);
  ctx_->u_r13 = RebaseWord(in[kCtxR13], from, to);
  ctx_->u_r14 = RebaseWord(in[kCtxR14], from, to);
  ctx_->u_rsp = RebaseStackWord(in[kCtxRsp], to);
  ctx_->u_ret = in[kCtxRet];
  ctx_->u_mxcsr = static_cast<uint32_t>(in[kCtxMxcsr]);
  state_ = State::kInTrap;
  return "";
}

std::string Sandbox::MapImage(const MemoryImage &image, uint64_t address, uint64_t size, int protection) {
  if (state_ == State::kDisposed) return "the session is disposed";
  if (state_ != State::kReady) return "mapImage: the session has already run";
  if (const char *refusal = ProtectionRefusal(address, size, protection)) return refusal;
  if (const char *refusal = image.Refusal(address, size)) return refusal;
  if (size == 0) return "";
  const int host_protection = ToHostProtection(protection);
  if (const std::string error = memory_->MapImage(image, address, size, host_protection); !error.empty()) return error;
  want_.Set(address, address + size, host_protection, image.serial(), 0);
  return synced_ ? memory_->Sync(want_, address, address + size) : "";
}

bool Sandbox::ArmTimer(double budget_ms) {
  const int tid = CurrentThreadId();
  if (!ctx_->timer_valid || timer_tid_ != tid) {
    if (ctx_->timer_valid) timer_delete(ctx_->timer);
    ctx_->timer_valid = 0;
    timer_armed_ = false;
    struct sigevent event;
    memset(&event, 0, sizeof event);
    event.sigev_notify = SIGEV_THREAD_ID;
    event.sigev_signo = TimeoutSignal();
    event.sigev_value.sival_ptr = ctx_;  // compared, never followed, by the handler
    event._sigev_un._tid = tid;
    if (timer_create(CLOCK_MONOTONIC, &event, &ctx_->timer) != 0) return false;
    ctx_->timer_valid = 1;
    timer_tid_ = tid;
  }
  const int64_t now = MonotonicNs();
  const int64_t budget_ns = static_cast<int64_t>(std::fmin(budget_ms, kMaxBudgetMs) * 1e6);
  const int64_t deadline = now + (budget_ns > 0 ? budget_ns : 1);
  /* Still armed for (about) this deadline and not yet expired: it will fire. */
  if (timer_armed_ && armed_deadline_ns_ > now && std::llabs(deadline - armed_deadline_ns_) <= kSameDeadlineNs) {
    return true;
  }
  struct itimerspec when;
  memset(&when, 0, sizeof when);
  when.it_value.tv_sec = static_cast<time_t>(deadline / 1000000000);
  when.it_value.tv_nsec = static_cast<long>(deadline % 1000000000);
  if (timer_settime(ctx_->timer, TIMER_ABSTIME, &when, nullptr) != 0) return false;
  timer_armed_ = true;
  armed_deadline_ns_ = deadline;
  return true;
}

void Sandbox::DisarmTimer() {
  if (ctx_->timer_valid && timer_armed_) {
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(ctx_->timer, 0, &off, nullptr);
  }
  timer_armed_ = false;
}

int Sandbox::Run(double budget_ms, std::string *error) {
  if (!(budget_ms > 0)) {
    /* No time left: the program does not run at all. */
    DisarmTimer();
    ctx_->stop_kind = ZVM_STOP_TIMEOUT;
    state_ = State::kStopped;
    return ZVM_STOP_TIMEOUT;
  }
  if (const char *message = PrepareThread()) {
    *error = message;
    return 0;
  }
  ctx_->stop_kind = 0;
  /* Running from before the timer is armed: a signal that comes while we
   * are still in trusted code is then re-armed by the handler, not lost. */
  SetRunning(ctx_);
  if (!ArmTimer(budget_ms)) {
    SetRunning(nullptr);
    *error = Errno("cannot arm the watchdog timer");
    return 0;
  }
  zvm_enter(ctx_);
  SetRunning(nullptr);

  const int kind = static_cast<int>(ctx_->stop_kind);
  /* After a trap the timer stays armed: the runtime usually resumes with
   * what is left of the same deadline, and then nothing needs re-arming. */
  if (kind != ZVM_STOP_TRAP) DisarmTimer();
  state_ = kind == ZVM_STOP_TRAP ? State::kInTrap : State::kStopped;
  if (kind == 0) *error = "internal error: the program stopped without a reason";
  return kind;
}

}  // namespace zvm
