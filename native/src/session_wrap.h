/*
 * The JavaScript `Session` class both addons export (native/src/addon.cc
 * over zvm::Sandbox, native/src/unicorn/addon.cc over zvm_uc::Emulator):
 * one surface, so src/addon/addon-engine.ts drives either. What differs
 * between the engines comes in through a traits type:
 *
 *   struct Traits {
 *     using Runner = ...;                  // Start/Resume/Protect/Dispose,
 *                                          // trap_args()..., memory()
 *     static constexpr int kStopTrap, kStopFault;
 *     static std::unique_ptr<Runner> Open(Napi::Env);  // throws on failure
 *     static uint64_t Base(const Runner &);            // what %r15 holds
 *     static uint8_t *Host(const Runner &);            // guest address 0 in this process
 *   };
 *
 * The hot path (start/resume) returns a small integer (the stop kind) and
 * writes the stop's details into a Uint32Array the caller handed to the
 * constructor, so no JavaScript object is built per trap.
 *
 * Guest memory is exposed as external ArrayBuffers over parts of it (views
 * alias it, nothing is copied); addon-engine.ts asks for 1 MiB windows and
 * caches them. Not one buffer over the whole 4 GiB: V8 counts an
 * ArrayBuffer's length as external memory, and 4 GiB of it forces a full
 * garbage collection for every session. Each buffer shares ownership of the
 * memory: dispose() detaches them all (every view becomes empty) and
 * releases it at once (the native engine resets it for the thread's next
 * session); a session that is only garbage-collected releases it
 * when both the session and its last buffer are gone.
 *
 * An engine may defer protection changes until host code or the program
 * needs them (Traits::Sync: the native engine, sandbox.h): then memory()
 * applies them over its range first, and `sync(address, length)` does so
 * for a range of a buffer handed out earlier; addon-engine.ts calls it for
 * each view until the program first runs.
 *
 * dispose() also destroys the runner then and there, not when the garbage
 * collector gets to the JavaScript object, and lets go of the stop array:
 * V8 does not see the runner's native memory (the Unicorn engine's was over
 * 1 MiB a session), and Node runs the finalizers of wrapped objects only
 * when its event loop turns, so a loop of synchronous sessions held all of
 * it (2 000 Unicorn sessions: over 3 GB). What is left until then is this
 * object's own few hundred bytes.
 */
#ifndef ZEROVM_SESSION_WRAP_H_
#define ZEROVM_SESSION_WRAP_H_

#include <napi.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "memory_image.h"
#include "sandbox_rules.h"

namespace zvm_addon {

/* Stop details, in the Uint32Array given to the constructor. */
enum StopSlot { kSlotArgs = 0, kSlotReturn = 1, kSlotSignal = 2, kSlotPc = 3, kSlotCount = 4 };

/* Whether an engine defers its protections until they are needed (Traits::Sync). */
template <typename T, typename = void>
struct HasSync : std::false_type {};
template <typename T>
struct HasSync<T, std::void_t<decltype(&T::Sync)>> : std::true_type {};

template <typename Traits>
class SessionWrap : public Napi::ObjectWrap<SessionWrap<Traits>> {
  using Self = SessionWrap<Traits>;
  using Runner = typename Traits::Runner;
  /* The shared owner of guest memory (a reservation, or the emulator's host memory). */
  using MemoryOwner = std::remove_cv_t<std::remove_reference_t<decltype(std::declval<const Runner &>().memory())>>;

 public:
  static Napi::Function Define(Napi::Env env) {
    std::vector<typename Napi::ObjectWrap<Self>::PropertyDescriptor> methods = {
                                 Self::template InstanceMethod<&Self::Base>("base"),
                                 Self::template InstanceMethod<&Self::Memory>("memory"),
                                 Self::template InstanceMethod<&Self::Protect>("protect"),
                                 Self::template InstanceMethod<&Self::Start>("start"),
                                 Self::template InstanceMethod<&Self::Resume>("resume"),
                                 Self::template InstanceMethod<&Self::SaveTrapContext>("saveTrapContext"),
                                 Self::template InstanceMethod<&Self::LoadTrapContext>("loadTrapContext"),
                                 Self::template InstanceMethod<&Self::MapImage>("mapImage"),
                                 Self::template InstanceMethod<&Self::Populated>("populated"),
                                 Self::template InstanceMethod<&Self::Dispose>("dispose"),
    };
    if constexpr (HasSync<Traits>::value) methods.push_back(Self::template InstanceMethod<&Self::Sync>("sync"));
    return Self::DefineClass(env, "Session", methods);
  }

  explicit SessionWrap(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Self>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        info[0].As<Napi::Uint32Array>().ElementLength() < kSlotCount) {
      throw Napi::TypeError::New(env, "Session(stopInfo: Uint32Array(4), willMap?: memory image)");
    }
    stop_info_ = Napi::Persistent(info[0].As<Napi::Uint32Array>());
    /* a memory image the session will map: an engine that keeps sandboxes gives it one holding that image, when it has one */
    const zvm::MemoryImage *will_map = info.Length() >= 2 && info[1].IsExternal() ? info[1].As<Napi::External<zvm::MemoryImage>>().Data() : nullptr;
    runner_ = Traits::Open(env, will_map);
  }

 private:
  /* The runner, or a JavaScript error once the session is disposed. */
  Runner &Live(Napi::Env env) {
    if (runner_ == nullptr) throw Napi::Error::New(env, "the session is disposed");
    return *runner_;
  }

  Napi::Value Base(const Napi::CallbackInfo &info) { return Napi::BigInt::New(info.Env(), Traits::Base(Live(info.Env()))); }

  /* memory(address, length): an external ArrayBuffer over exactly that part
   * of guest memory. */
  Napi::Value Memory(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Runner &runner = Live(env);
    const double address = info[0].As<Napi::Number>().DoubleValue();
    const double length = info[1].As<Napi::Number>().DoubleValue();
    if (!(address >= 0) || !(length >= 1) || address + length > 4294967296.0 ||
        address != static_cast<double>(static_cast<uint64_t>(address)) ||
        length != static_cast<double>(static_cast<uint64_t>(length))) {
      throw Napi::RangeError::New(env, "memory: the range leaves the 4 GiB sandbox");
    }
    if constexpr (HasSync<Traits>::value) {
      /* a new buffer sees the protections asked for so far (a cached one: the caller's sync) */
      const std::string error = Traits::Sync(runner, static_cast<uint64_t>(address), static_cast<uint64_t>(length));
      if (!error.empty()) throw Napi::Error::New(env, error);
    }
    auto *owner = new MemoryOwner(runner.memory());
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, Traits::Host(runner) + static_cast<uint64_t>(address), static_cast<size_t>(length),
        [](Napi::Env, void *, MemoryOwner *hint) { delete hint; }, owner);
    if (++buffers_made_ % 64 == 0) PruneBuffers();
    buffers_.push_back(Napi::Weak(buffer));
    return buffer;
  }

  /* Forgets the buffers the garbage collector has taken. */
  void PruneBuffers() {
    std::vector<Napi::Reference<Napi::ArrayBuffer>> live;
    for (auto &ref : buffers_) {
      if (!ref.Value().IsEmpty()) live.push_back(std::move(ref));
    }
    buffers_ = std::move(live);
  }

  Napi::Value Protect(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const double address = info[0].As<Napi::Number>().DoubleValue();
    const double size = info[1].As<Napi::Number>().DoubleValue();
    const int protection = info[2].As<Napi::Number>().Int32Value();
    if (!(address >= 0) || !(size >= 0) || address > 4294967296.0 || size > 4294967296.0)
      throw Napi::RangeError::New(env, "protect: the range leaves the 4 GiB sandbox");
    const std::string error =
        Live(env).Protect(static_cast<uint64_t>(address), static_cast<uint64_t>(size), protection);
    if (!error.empty()) throw Napi::Error::New(env, error);
    return env.Undefined();
  }

  /* sync(address, length): before the program first runs, applies the
   * protections asked for over that range (the engine defers them; see
   * Traits::Sync), so that host code may touch it through a view. */
  Napi::Value Sync(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const double address = info[0].As<Napi::Number>().DoubleValue();
    const double length = info[1].As<Napi::Number>().DoubleValue();
    if (!(address >= 0) || !(length >= 0) || address + length > 4294967296.0)
      throw Napi::RangeError::New(env, "sync: the range leaves the 4 GiB sandbox");
    const std::string error = Traits::Sync(Live(env), static_cast<uint64_t>(address), static_cast<uint64_t>(length));
    if (!error.empty()) throw Napi::Error::New(env, error);
    return env.Undefined();
  }

  Napi::Value Start(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const double entry = info[0].As<Napi::Number>().DoubleValue();
    const double budget = info[1].As<Napi::Number>().DoubleValue();
    if (!(entry >= 0) || entry >= 4294967296.0)
      throw Napi::RangeError::New(env, "start: the entry point must be a sandbox address");
    std::string error;
    const int kind = Live(env).Start(static_cast<uint64_t>(entry), budget, &error);
    return Finish(env, kind, error);
  }

  Napi::Value Resume(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const int32_t result = info[0].As<Napi::Number>().Int32Value();
    const double budget = info[1].As<Napi::Number>().DoubleValue();
    std::string error;
    const int kind = Live(env).Resume(result, budget, &error);
    return Finish(env, kind, error);
  }

  Napi::Value Finish(Napi::Env env, int kind, const std::string &error) {
    if (kind == 0) throw Napi::Error::New(env, error);
    uint32_t *slots = stop_info_.Value().Data();
    if (kind == Traits::kStopTrap) {
      slots[kSlotArgs] = runner_->trap_args();
      slots[kSlotReturn] = runner_->trap_return();
    } else if (kind == Traits::kStopFault) {
      slots[kSlotSignal] = runner_->fault_signal();
      slots[kSlotPc] = runner_->fault_pc();
    }
    return Napi::Number::New(env, kind);
  }

  /* saveTrapContext(): the trap context (sandbox_rules.h) as a BigUint64Array. */
  Napi::Value SaveTrapContext(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "the session is disposed");
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, zvm::kTrapContextWords * sizeof(uint64_t));
    const std::string error = runner_->SaveTrapContext(static_cast<uint64_t *>(buffer.Data()));
    if (!error.empty()) throw Napi::Error::New(env, error);
    napi_value array;
    if (napi_create_typedarray(env, napi_biguint64_array, zvm::kTrapContextWords, buffer, 0, &array) != napi_ok)
      throw Napi::Error::New(env, "saveTrapContext: cannot make the array");
    return Napi::Value(env, array);
  }

  /* loadTrapContext(words: BigUint64Array): resume from a saved trap context. */
  Napi::Value LoadTrapContext(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "the session is disposed");
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
        info[0].As<Napi::TypedArray>().ElementLength() != zvm::kTrapContextWords) {
      throw Napi::TypeError::New(env, "loadTrapContext(words: BigUint64Array(9))");
    }
    Napi::TypedArray array = info[0].As<Napi::TypedArray>();
    uint64_t words[zvm::kTrapContextWords];
    memcpy(words, static_cast<uint8_t *>(array.ArrayBuffer().Data()) + array.ByteOffset(), sizeof words);
    const std::string error = runner_->LoadTrapContext(words);
    if (!error.empty()) throw Napi::Error::New(env, error);
    return env.Undefined();
  }

  /* mapImage(image, address, size, protection): a range of a memory image
   * (createMemoryImage) over the sandbox, copy-on-write, before the session
   * runs. Engines that cannot (Traits::MapImage says why) throw. */
  Napi::Value MapImage(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "the session is disposed");
    if (info.Length() < 4 || !info[0].IsExternal()) throw Napi::TypeError::New(env, "mapImage(image, address, size, protection)");
    const zvm::MemoryImage *image = info[0].As<Napi::External<zvm::MemoryImage>>().Data();
    const double address = info[1].As<Napi::Number>().DoubleValue();
    const double size = info[2].As<Napi::Number>().DoubleValue();
    const int protection = info[3].As<Napi::Number>().Int32Value();
    if (!(address >= 0) || !(size >= 0) || address > 4294967296.0 || size > 4294967296.0)
      throw Napi::RangeError::New(env, "mapImage: the range leaves the 4 GiB sandbox");
    const std::string error =
        Traits::MapImage(*runner_, *image, static_cast<uint64_t>(address), static_cast<uint64_t>(size), protection);
    if (!error.empty()) throw Napi::Error::New(env, error);
    return env.Undefined();
  }

  /* populated(address, size): a Uint8Array with one byte per 4 KiB page of
   * [address, address + size), 1 where the host has the page (in memory or
   * swapped out: /proc/self/pagemap bits 63 and 62), 0 where it never gave
   * one (an anonymous page never touched reads as zeros; a page of a memory
   * image not yet touched reads as the image: the caller adds those). Null
   * when pagemap cannot be read (the caller then looks at every page).
   * Warm starts (snapshot.ts) copy only these pages instead of reading the
   * whole sandbox. */
  Napi::Value Populated(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Runner &runner = Live(env);
    const double address = info[0].As<Napi::Number>().DoubleValue();
    const double size = info[1].As<Napi::Number>().DoubleValue();
    if (!(address >= 0) || !(size >= 0) || address + size > 4294967296.0 ||
        static_cast<uint64_t>(address) % zvm::kPageSize != 0 || static_cast<uint64_t>(size) % zvm::kPageSize != 0)
      throw Napi::RangeError::New(env, "populated: whole 4 KiB pages inside the 4 GiB sandbox");
    const size_t pages = static_cast<size_t>(size) / zvm::kPageSize;
    const uint64_t first = reinterpret_cast<uint64_t>(Traits::Host(runner) + static_cast<uint64_t>(address)) / zvm::kPageSize;
    const int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return env.Null();
    Napi::Uint8Array result = Napi::Uint8Array::New(env, pages);
    constexpr size_t kBatch = 4096;
    uint64_t entries[kBatch];
    size_t done = 0;
    bool ok = true;
    while (done < pages && ok) {
      const size_t want = pages - done < kBatch ? pages - done : kBatch;
      const ssize_t n = pread(fd, entries, want * sizeof(uint64_t), static_cast<off_t>((first + done) * sizeof(uint64_t)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || n % sizeof(uint64_t) != 0) {
        ok = false;
        break;
      }
      const size_t got = static_cast<size_t>(n) / sizeof(uint64_t);
      for (size_t i = 0; i < got; i++) result[done + i] = (entries[i] >> 62) != 0 ? 1 : 0;
      done += got;
    }
    close(fd);
    if (!ok) return env.Null();
    return result;
  }

  Napi::Value Dispose(const Napi::CallbackInfo &info) {
    if (disposed_) return info.Env().Undefined();
    disposed_ = true;
    for (auto &ref : buffers_) {
      Napi::ArrayBuffer buffer = ref.Value();
      if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
    }
    buffers_.clear();
    runner_->Dispose(true);
    runner_.reset();
    stop_info_.Reset();
    return info.Env().Undefined();
  }

  std::unique_ptr<Runner> runner_;
  /* Every ArrayBuffer handed out, weakly: dispose() detaches the live ones. */
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers_;
  uint64_t buffers_made_ = 0;
  Napi::Reference<Napi::Uint32Array> stop_info_;
  bool disposed_ = false;
};

/*
 * createMemoryImage(addresses: number[], chunks: Uint8Array[]): a memory
 * image (memory_image.h) holding each chunk at its sandbox address, as an
 * External that closes the image when collected. Mappings made from it
 * stay valid after that.
 */
inline Napi::Value CreateMemoryImage(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray())
    throw Napi::TypeError::New(env, "createMemoryImage(addresses: number[], chunks: Uint8Array[])");
  Napi::Array addresses = info[0].As<Napi::Array>();
  Napi::Array chunks = info[1].As<Napi::Array>();
  if (addresses.Length() != chunks.Length()) throw Napi::TypeError::New(env, "createMemoryImage: one address per chunk");
  auto *image = new zvm::MemoryImage();
  if (!image->error().empty()) {
    const std::string error = image->error();
    delete image;
    throw Napi::Error::New(env, "memory image: " + error);
  }
  for (uint32_t i = 0; i < chunks.Length(); i++) {
    Napi::Value chunk = chunks.Get(i);
    if (!chunk.IsTypedArray() || chunk.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      delete image;
      throw Napi::TypeError::New(env, "createMemoryImage: chunks are Uint8Arrays");
    }
    Napi::Uint8Array bytes = chunk.As<Napi::Uint8Array>();
    const double address = addresses.Get(i).As<Napi::Number>().DoubleValue();
    const std::string error = address >= 0 ? image->Write(static_cast<uint64_t>(address), bytes.Data(), bytes.ByteLength())
                                           : std::string("memory image: a negative address");
    if (!error.empty()) {
      delete image;
      throw Napi::Error::New(env, error);
    }
  }
  return Napi::External<zvm::MemoryImage>::New(env, image, [](Napi::Env, zvm::MemoryImage *done) { delete done; });
}

}  // namespace zvm_addon

#endif  // ZEROVM_SESSION_WRAP_H_
