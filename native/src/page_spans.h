/*
 * A partition of the 4 GiB sandbox into spans of one protection and one
 * backing: what a reservation's pages are in the kernel (Reservation's
 * record) or what a session has asked them to be (Sandbox's). sandbox.cc
 * compares the two and makes only the system calls that differ
 * (spec/runtime.md "Engines", "Reservation").
 *
 * A span's backing is 0 (anonymous memory), kTrampolineBacking (the
 * trampoline's pages, which hold the engine's constant code), or the
 * serial number of a memory image (memory_image.h) mapped there
 * copy-on-write at offset = sandbox address. Serial numbers are never
 * reused, so an image made after another one died never passes for it.
 */
#ifndef ZEROVM_NATIVE_PAGE_SPANS_H
#define ZEROVM_NATIVE_PAGE_SPANS_H

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "sandbox_rules.h"

namespace zvm {

/* Sorts ranges [first, second) and merges those that overlap or touch. */
inline void MergeRanges(std::vector<std::pair<uint64_t, uint64_t>> *ranges) {
  std::sort(ranges->begin(), ranges->end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto &range : *ranges) {
    if (!merged.empty() && range.first <= merged.back().second) {
      merged.back().second = std::max(merged.back().second, range.second);
    } else {
      merged.push_back(range);
    }
  }
  *ranges = std::move(merged);
}

constexpr uint64_t kAnonymousBacking = 0;
constexpr uint64_t kTrampolineBacking = 1;

struct PageSpan {
  uint64_t start;
  uint64_t end;
  int protection;  // host PROT_* bits
  uint64_t backing;
  /* For an image's span in a reservation's record: the session that mapped
   * (or claimed) it; 0 otherwise. */
  uint64_t session;

  bool SameAs(const PageSpan &other) const {
    return protection == other.protection && backing == other.backing && session == other.session;
  }
};

class PageSpans {
 public:
  /* A fresh sandbox: every page inaccessible anonymous memory, the trampoline's its own. */
  PageSpans() { Clear(); }

  void Clear() {
    spans_.assign({{0, kTrampolineStart, 0, kAnonymousBacking, 0},
                   {kTrampolineStart, kTrampolineEnd, 0, kTrampolineBacking, 0},
                   {kTrampolineEnd, kSandboxSize, 0, kAnonymousBacking, 0}});
  }

  const std::vector<PageSpan> &spans() const { return spans_; }

  /* Gives [start, end) one protection, backing and session. */
  void Set(uint64_t start, uint64_t end, int protection, uint64_t backing, uint64_t session) {
    if (start >= end) return;
    std::vector<PageSpan> out;
    out.reserve(spans_.size() + 2);
    bool placed = false;
    for (const PageSpan &span : spans_) {
      if (span.end <= start || span.start >= end) {
        Append(&out, span);
        continue;
      }
      if (span.start < start) Append(&out, {span.start, start, span.protection, span.backing, span.session});
      if (!placed) Append(&out, {start, end, protection, backing, session});
      placed = true;
      if (span.end > end) Append(&out, {end, span.end, span.protection, span.backing, span.session});
    }
    spans_ = std::move(out);
  }

  /* Changes the protection of [start, end), keeping each page's backing. */
  void SetProtection(uint64_t start, uint64_t end, int protection) {
    std::vector<PageSpan> pieces;
    ForEach(start, end, [&](const PageSpan &piece) { pieces.push_back(piece); });
    for (const PageSpan &piece : pieces) Set(piece.start, piece.end, protection, piece.backing, piece.session);
  }

  /* Calls `visit` with each span's part inside [start, end), in address order. */
  template <typename Visit>
  void ForEach(uint64_t start, uint64_t end, Visit visit) const {
    for (const PageSpan &span : spans_) {
      if (span.end <= start) continue;
      if (span.start >= end) break;
      PageSpan piece = span;
      if (piece.start < start) piece.start = start;
      if (piece.end > end) piece.end = end;
      visit(piece);
    }
  }

  /* Whether all of [start, end) has this backing, mapped before session `session`. */
  bool HoldsEarlier(uint64_t start, uint64_t end, uint64_t backing, uint64_t session) const {
    bool all = true;
    ForEach(start, end, [&](const PageSpan &piece) {
      if (piece.backing != backing || piece.session >= session) all = false;
    });
    return all;
  }

 private:
  static void Append(std::vector<PageSpan> *out, const PageSpan &span) {
    if (span.start >= span.end) return;
    if (!out->empty() && out->back().end == span.start && out->back().SameAs(span)) {
      out->back().end = span.end;
    } else {
      out->push_back(span);
    }
  }

  std::vector<PageSpan> spans_;
};

}  // namespace zvm

#endif
