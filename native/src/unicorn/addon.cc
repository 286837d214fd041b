/*
 * Node-API glue for the Unicorn emulation engine: one JavaScript class,
 * `Session`, over zvm_uc::Emulator, with the same surface as the native
 * engine's addon (native/src/addon.cc), plus what the start-up check of the
 * libunicorn repairs found.
 *
 * Pipeline position: src/emulator/unicorn.ts -> here -> emulator.cc. Nothing
 * else loads this addon.
 *
 * As in the native addon: start/resume return the stop kind as a small
 * integer and write the details into a Uint32Array given to the constructor;
 * guest memory is exposed as external ArrayBuffers over parts of the host
 * memory behind the sandbox, each sharing ownership of it, and dispose()
 * detaches every live one before unmapping.
 */
#include <napi.h>
#include <unicorn/unicorn.h>

#include <memory>
#include <string>
#include <vector>

#include "emulator.h"
#include "qemu_hooks.h"

namespace {

using zvm_uc::Emulator;
using zvm_uc::HostMemory;

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
    zvm_uc::CheckQemuHooks();
    auto memory = std::make_shared<HostMemory>();
    if (memory->data() == nullptr) throw Napi::Error::New(env, "unicorn engine: " + memory->error());
    emulator_ = std::make_unique<Emulator>(std::move(memory));
    const std::string error = emulator_->Open();
    if (!error.empty()) {
      emulator_->Dispose(true);
      throw Napi::Error::New(env, "unicorn engine: " + error);
    }
  }

 private:
  Napi::Value Base(const Napi::CallbackInfo &info) { return Napi::BigInt::New(info.Env(), zvm_uc::kBase); }

  /* memory(address, length): an external ArrayBuffer over exactly that part
   * of guest memory. */
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
    auto *owner = new std::shared_ptr<HostMemory>(emulator_->memory());
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(
        env, emulator_->host() + static_cast<uint64_t>(address), static_cast<size_t>(length),
        [](Napi::Env, void *, std::shared_ptr<HostMemory> *hint) { delete hint; }, owner);
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
        emulator_->Protect(static_cast<uint64_t>(address), static_cast<uint64_t>(size), protection);
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
    const int kind = emulator_->Start(static_cast<uint64_t>(entry), budget, &error);
    return Finish(env, kind, error);
  }

  Napi::Value Resume(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    const int32_t result = info[0].As<Napi::Number>().Int32Value();
    const double budget = info[1].As<Napi::Number>().DoubleValue();
    std::string error;
    const int kind = emulator_->Resume(result, budget, &error);
    return Finish(env, kind, error);
  }

  Napi::Value Finish(Napi::Env env, int kind, const std::string &error) {
    if (kind == 0) throw Napi::Error::New(env, error);
    uint32_t *slots = stop_info_.Value().Data();
    if (kind == zvm_uc::kStopTrap) {
      slots[kSlotArgs] = emulator_->trap_args();
      slots[kSlotReturn] = emulator_->trap_return();
    } else if (kind == zvm_uc::kStopFault) {
      slots[kSlotSignal] = emulator_->fault_signal();
      slots[kSlotPc] = emulator_->fault_pc();
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
    emulator_->Dispose(true);
    return info.Env().Undefined();
  }

  std::unique_ptr<Emulator> emulator_;
  /* Every ArrayBuffer handed out, weakly: dispose() detaches the live ones. */
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers_;
  uint64_t buffers_made_ = 0;
  Napi::Reference<Napi::Uint32Array> stop_info_;
  bool disposed_ = false;
};

/* repairs(): what the start-up check of the libunicorn repairs found (runs
 * the check on first call). */
Napi::Value Repairs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const zvm_uc::HookStatus &status = zvm_uc::CheckQemuHooks();
  Napi::Object result = Napi::Object::New(env);
  result.Set("fastStores", Napi::Boolean::New(env, status.fast_stores));
  result.Set("preciseFaults", Napi::Boolean::New(env, status.precise_faults));
  result.Set("detail", Napi::String::New(env, status.detail));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Define(env));
  exports.Set("STOP_TRAP", Napi::Number::New(env, zvm_uc::kStopTrap));
  exports.Set("STOP_FAULT", Napi::Number::New(env, zvm_uc::kStopFault));
  exports.Set("STOP_TIMEOUT", Napi::Number::New(env, zvm_uc::kStopTimeout));
  unsigned major = 0, minor = 0;
  uc_version(&major, &minor);
  exports.Set("version", Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor)));
  exports.Set("repairs", Napi::Function::New(env, Repairs, "repairs"));
  return exports;
}

}  // namespace

NODE_API_MODULE(zerovm_unicorn, Init)
