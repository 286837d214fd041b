/*
 * A snapshot's memory as a file (warm starts, spec/runtime.md "Daemon
 * mode"): a memfd as large as the sandbox, holding the snapshot's pages at
 * their sandbox addresses (the rest a hole, which reads as zeros). A
 * session maps ranges of it over its sandbox MAP_PRIVATE: copy-on-write,
 * so a request costs neither a copy of the snapshot nor any change to it,
 * and pages it never touches cost nothing at all.
 *
 * An image is written only while it is made (CreateMemoryImage in
 * session_wrap.h), never after a session mapped it: a mapping whose
 * copied pages were dropped (MADV_DONTNEED) or overwritten with the
 * image's own bytes reads as the image again, which lets a reservation
 * keep it for the next session that maps the same image there (sandbox.h,
 * Reservation::MapImage and Reset).
 *
 * Header-only: session_wrap.h serves it to the native engine's addon.
 */
#ifndef ZEROVM_NATIVE_MEMORY_IMAGE_H
#define ZEROVM_NATIVE_MEMORY_IMAGE_H

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "page_spans.h"
#include "sandbox_rules.h"

namespace zvm {

/*
 * An image's bytes, shared by the image and every reservation whose
 * record holds it (sandbox.h): a reset puts them back into the pages a
 * session copied (restore in place), so it may need them after the image
 * itself is gone. Made whole before any session maps it; never written
 * after.
 */
class ImageBytes {
 public:
  explicit ImageBytes(int fd) : fd_(fd) {}
  ~ImageBytes() {
    if (view_ != nullptr) munmap(view_, view_end_ - view_start_);
    if (fd_ >= 0) close(fd_);
  }
  ImageBytes(const ImageBytes &) = delete;
  ImageBytes &operator=(const ImageBytes &) = delete;

  int fd() const { return fd_; }

  /* The page-aligned ranges [first, second) that hold written bytes, in
   * address order, merged; the rest of the image is a hole (zeros). */
  const std::vector<std::pair<uint64_t, uint64_t>> &extents() const { return extents_; }

  /* While the image is made: bytes were written at [address, address + length). */
  void NoteWritten(uint64_t address, uint64_t length) {
    const uint64_t start = address & ~(kPageSize - 1);
    const uint64_t end = (address + length + kPageSize - 1) & ~(kPageSize - 1);
    if (start >= end) return;
    extents_.emplace_back(start, end);
    MergeRanges(&extents_);
  }

  /* A read-only host view of the image's page at sandbox address `page`
   * (inside an extent), or nullptr when the view cannot be mapped. The
   * view covers the extents' hull, mapped once, shared (no copy). */
  const uint8_t *Page(uint64_t page) const {
    std::lock_guard<std::mutex> hold(view_lock_);
    if (view_ == nullptr && !view_failed_ && !extents_.empty()) {
      view_start_ = extents_.front().first;
      view_end_ = extents_.back().second;
      void *view = mmap(nullptr, view_end_ - view_start_, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(view_start_));
      if (view == MAP_FAILED) {
        view_failed_ = true;
      } else {
        view_ = static_cast<uint8_t *>(view);
      }
    }
    if (view_ == nullptr || page < view_start_ || page >= view_end_) return nullptr;
    return view_ + (page - view_start_);
  }

 private:
  int fd_;
  std::vector<std::pair<uint64_t, uint64_t>> extents_;
  mutable std::mutex view_lock_;
  mutable uint8_t *view_ = nullptr;
  mutable uint64_t view_start_ = 0;
  mutable uint64_t view_end_ = 0;
  mutable bool view_failed_ = false;
};

class MemoryImage {
 public:
  MemoryImage() : serial_(NextSerial()) {
    const int fd = memfd_create("zerovm-snapshot", MFD_CLOEXEC);
    if (fd < 0) {
      error_ = std::string("memfd_create: ") + std::strerror(errno);
    } else if (ftruncate(fd, static_cast<off_t>(kSandboxSize)) != 0) {
      error_ = std::string("ftruncate: ") + std::strerror(errno);
      close(fd);
    } else {
      bytes_ = std::make_shared<ImageBytes>(fd);
    }
  }
  MemoryImage(const MemoryImage &) = delete;
  MemoryImage &operator=(const MemoryImage &) = delete;

  int fd() const { return bytes_ == nullptr ? -1 : bytes_->fd(); }
  /* The image's bytes, for a reservation that keeps it (see ImageBytes). */
  const std::shared_ptr<const ImageBytes> bytes() const { return bytes_; }
  /* This image's backing in a page record (page_spans.h): unique in the process, never reused. */
  uint64_t serial() const { return serial_; }
  const std::string &error() const { return error_; }

  /* Puts `length` bytes at sandbox address `address`. Returns an error message (empty: done). */
  std::string Write(uint64_t address, const uint8_t *bytes, size_t length) {
    if (bytes_ == nullptr) return "memory image: " + error_;
    if (address > kSandboxSize || length > kSandboxSize - address) return "memory image: the bytes leave the 4 GiB sandbox";
    size_t done = 0;
    while (done < length) {
      const ssize_t n = pwrite(bytes_->fd(), bytes + done, length - done, static_cast<off_t>(address + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::string("memory image: pwrite: ") + std::strerror(errno);
      done += static_cast<size_t>(n);
    }
    bytes_->NoteWritten(address, length);
    return "";
  }

  /* Why [address, address + size) cannot be mapped from an image, or nullptr. */
  static const char *Refusal(uint64_t address, uint64_t size) {
    if (address % kPageSize != 0 || size % kPageSize != 0) return "mapImage: address and size must be multiples of 4 KiB";
    if (address > kSandboxSize || size > kSandboxSize - address) return "mapImage: the range leaves the 4 GiB sandbox";
    if (TouchesTrampoline(address, size)) return "mapImage: the trampoline is the engine's own";
    return nullptr;
  }

  /* Maps [address, address + size) of the image over the sandbox at `base`, copy-on-write, with host protection `host_prot`. */
  std::string MapAt(uint8_t *base, uint64_t address, uint64_t size, int host_prot) const {
    if (const char *refusal = Refusal(address, size)) return refusal;
    if (size == 0) return "";
    void *at = mmap(base + address, size, host_prot, MAP_PRIVATE | MAP_FIXED, fd(), static_cast<off_t>(address));
    if (at == MAP_FAILED) return std::string("mapImage: mmap: ") + std::strerror(errno);
    return "";
  }

 private:
  static uint64_t NextSerial() {
    static std::atomic<uint64_t> next{kTrampolineBacking + 1};
    return next.fetch_add(1);
  }

  uint64_t serial_;
  /* null when the memfd could not be made (error_ says why) */
  std::shared_ptr<ImageBytes> bytes_;
  std::string error_;
};

}  // namespace zvm

#endif
