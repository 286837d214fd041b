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
 * copied pages were dropped (MADV_DONTNEED) reads as the image again,
 * which lets a reservation keep it for the next session that maps the
 * same image there (sandbox.h, Reservation::MapImage).
 *
 * Header-only: session_wrap.h serves it to the native engine's addon.
 */
#ifndef ZEROVM_NATIVE_MEMORY_IMAGE_H
#define ZEROVM_NATIVE_MEMORY_IMAGE_H

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "page_spans.h"
#include "sandbox_rules.h"

namespace zvm {

class MemoryImage {
 public:
  MemoryImage() : serial_(NextSerial()) {
    fd_ = memfd_create("zerovm-snapshot", MFD_CLOEXEC);
    if (fd_ < 0) {
      error_ = std::string("memfd_create: ") + std::strerror(errno);
    } else if (ftruncate(fd_, static_cast<off_t>(kSandboxSize)) != 0) {
      error_ = std::string("ftruncate: ") + std::strerror(errno);
      close(fd_);
      fd_ = -1;
    }
  }
  ~MemoryImage() {
    if (fd_ >= 0) close(fd_);
  }
  MemoryImage(const MemoryImage &) = delete;
  MemoryImage &operator=(const MemoryImage &) = delete;

  int fd() const { return fd_; }
  /* This image's backing in a page record (page_spans.h): unique in the process, never reused. */
  uint64_t serial() const { return serial_; }
  const std::string &error() const { return error_; }

  /* Puts `length` bytes at sandbox address `address`. Returns an error message (empty: done). */
  std::string Write(uint64_t address, const uint8_t *bytes, size_t length) {
    if (address > kSandboxSize || length > kSandboxSize - address) return "memory image: the bytes leave the 4 GiB sandbox";
    size_t done = 0;
    while (done < length) {
      const ssize_t n = pwrite(fd_, bytes + done, length - done, static_cast<off_t>(address + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::string("memory image: pwrite: ") + std::strerror(errno);
      done += static_cast<size_t>(n);
    }
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
    void *at = mmap(base + address, size, host_prot, MAP_PRIVATE | MAP_FIXED, fd_, static_cast<off_t>(address));
    if (at == MAP_FAILED) return std::string("mapImage: mmap: ") + std::strerror(errno);
    return "";
  }

 private:
  static uint64_t NextSerial() {
    static std::atomic<uint64_t> next{kTrampolineBacking + 1};
    return next.fetch_add(1);
  }

  uint64_t serial_;
  int fd_ = -1;
  std::string error_;
};

}  // namespace zvm

#endif
