/*
 * Node-API glue for the native engine: one JavaScript class, `Session`, over
 * zvm::Sandbox, plus a host check.
 *
 * Pipeline position: src/engines/native.ts -> here -> sandbox.cc. Nothing
 * else loads this addon.
 *
 * The hot path (start/resume) returns a small integer (the stop kind) and
 * writes the stop's details into a Uint32Array the caller handed to the
 * constructor, so no JavaScript object is built per trap.
 *
 * Guest memory is exposed as external ArrayBuffers over parts of the
 * sandbox (views alias it, nothing is copied); native.ts asks for 1 MiB
 * windows and caches them. Not one buffer over the whole 4 GiB: V8 counts an
 * ArrayBuffer's length as external memory, and 4 GiB of it forces a full
 * garbage collection for every session. Each buffer shares ownership of the
 * reservation: dispose() detaches them all (every view becomes empty) and
 * unmaps at once; a session that is only garbage-collected unmaps when both
 * the session and its last buffer are gone.
 */
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "sandbox.h"
#include "signals.h"

namespace {

using zvm::Reservation;
using zvm::Sandbox;

/* Stop details, in the Uint32Array given to the constructor. */
enum StopSlot { kSlotArgs = 0, kSlotReturn = 1, kSlotSignal = 2, kSlotPc = 3, kSlotCount = 4 };

class Session : public Napi::ObjectWrap<Session> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Session",
                       {
                           InstanceMethod<&Session::Base>("base"),
                           InstanceMethod<&Session::Memory>("memory"),
                           InstanceMethod<&Session::Protect>("protect"),
                           InstanceMethod<&Session::Start>("start"),
                           InstanceMethod<&Session::Resume>("resume"),
                           InstanceMethod<&Session::Dispose>("dispose"),
                       });
  }

  explicit Session(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Session>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        info[0].As<Napi::Uint32Array>().ElementLength() < kSlotCount) {
      throw Napi::TypeError::New(env, "Session(stopInfo: Uint32Array(4))");
    }
    stop_info_ = Napi::Persistent(info[0].As<Napi::Uint32Array>());
    if (const char *message = zvm::InstallSignalHandlers()) {
      throw Napi::Error::New(env, std::string("native engine: ") + message);
    }
    auto memory = std::make_shared<Reservation>();
    if (memory->base() == nullptr) throw Napi::Error::New(env, "native engine: " + memory->error());
    sandbox_ = std::make_unique<Sandbox>(std::move(memory));
  }


 private:
  Napi::Value Base(const Napi::CallbackInfo &info) {
    return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(sandbox_->base())));
  }

  /* memory(address, length): an external ArrayBuffer over exactly that part
   * of the sandbox. */
  Napi::Value Memory(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (disposed_) throw Napi::Error::New(env, "the session is disposed");
    const double address = info[0].As<Napi::Number>().DoubleValue();
    const double length = info[1].As<Napi::Number>().DoubleValue();
    if (!(address >= 0) || !(length >= 1) || address + length > 4294967296.0 ||
        address != static_cast<double>(static_cast<uint64_t>(address)) ||
        length != static_cast<double>(static_cast<uint64_t>(length))) {
      throw Napi::RangeError::New(env, "memory: the range leaves the 4 GiB sandbox");
    }
    auto *owner = new std::shared_ptr<Reservation>(sandbox_->memory());
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, sandbox_->base() + static_cast<uint64_t>(address), static_cast<size_t>(length),
        [](Napi::Env, void *, std::shared_ptr<Reservation> *hint) { delete hint; }, owner);
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
    const std::string error = sandbox_->Protect(static_cast<uint64_t>(address), static_cast<uint64_t>(size), protection);
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
    const int kind = sandbox_->Start(static_cast<uint64_t>(entry), budget, &error);
    return Finish(env, kind, error);
  }

  Napi::Value Resume(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const int32_t result = info[0].As<Napi::Number>().Int32Value();
    const double budget = info[1].As<Napi::Number>().DoubleValue();
    std::string error;
    const int kind = sandbox_->Resume(result, budget, &error);
    return Finish(env, kind, error);
  }

  Napi::Value Finish(Napi::Env env, int kind, const std::string &error) {
    if (kind == 0) throw Napi::Error::New(env, error);
    uint32_t *slots = stop_info_.Value().Data();
    if (kind == ZVM_STOP_TRAP) {
      slots[kSlotArgs] = sandbox_->trap_args();
      slots[kSlotReturn] = sandbox_->trap_return();
    } else if (kind == ZVM_STOP_FAULT) {
      slots[kSlotSignal] = sandbox_->fault_signal();
      slots[kSlotPc] = sandbox_->fault_pc();
    }
    return Napi::Number::New(env, kind);
  }

  Napi::Value Dispose(const Napi::CallbackInfo &info) {
    if (disposed_) return info.Env().Undefined();
    disposed_ = true;
    for (auto &ref : buffers_) {
      Napi::ArrayBuffer buffer = ref.Value();
      if (!buffer.IsEmpty() && !buffer.IsDetached()) buffer.Detach();
    }
    buffers_.clear();
    sandbox_->Dispose(true);
    return info.Env().Undefined();
  }

  std::unique_ptr<Sandbox> sandbox_;
  /* Every ArrayBuffer handed out, weakly: dispose() detaches the live ones. */
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers_;
  uint64_t buffers_made_ = 0;
  Napi::Reference<Napi::Uint32Array> stop_info_;
  bool disposed_ = false;
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Define(env));
  exports.Set("STOP_TRAP", Napi::Number::New(env, ZVM_STOP_TRAP));
  exports.Set("STOP_FAULT", Napi::Number::New(env, ZVM_STOP_FAULT));
  exports.Set("STOP_TIMEOUT", Napi::Number::New(env, ZVM_STOP_TIMEOUT));
  exports.Set("avx", Napi::Boolean::New(env, zvm::HostHasAvx()));
  exports.Set("timeoutSignal", Napi::Number::New(env, zvm::TimeoutSignal()));
  return exports;
}

}  // namespace

NODE_API_MODULE(zerovm_native, Init)
