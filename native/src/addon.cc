/*
 * Node-API glue for the native engine: the `Session` class of
 * session_wrap.h over zvm::Sandbox, plus host facts (AVX, the timeout
 * signal).
 *
 * Pipeline position: src/engines/native.ts -> here -> sandbox.cc. Nothing
 * else loads this addon.
 */
#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>

#include "sandbox.h"
#include "session_wrap.h"
#include "signals.h"

namespace {

struct NativeTraits {
  using Runner = zvm::Sandbox;
  static constexpr int kStopTrap = ZVM_STOP_TRAP;
  static constexpr int kStopFault = ZVM_STOP_FAULT;

  /* Installs the signal handlers (once per process) and reserves the sandbox
   * (or takes the one this thread's last session left, reset). */
  static std::unique_ptr<Runner> Open(Napi::Env env) {
    if (const char *message = zvm::InstallSignalHandlers()) {
      throw Napi::Error::New(env, std::string("native engine: ") + message);
    }
    auto memory = zvm::AcquireReservation();
    if (memory->base() == nullptr) throw Napi::Error::New(env, "native engine: " + memory->error());
    return std::make_unique<Runner>(std::move(memory));
  }
  static uint64_t Base(const Runner &sandbox) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(sandbox.base())); }
  static uint8_t *Host(const Runner &sandbox) { return sandbox.base(); }
  /* Protections wait until a view or the first run needs them (sandbox.h). */
  static std::string Sync(Runner &sandbox, uint64_t address, uint64_t size) { return sandbox.Sync(address, size); }
  static std::string MapImage(Runner &sandbox, const zvm::MemoryImage &image, uint64_t address, uint64_t size, int protection) {
    return sandbox.MapImage(image, address, size, protection);
  }
};

using Session = zvm_addon::SessionWrap<NativeTraits>;

/* resetCounts(): this thread's pages restored in place and copies dropped by resets (sandbox.h). */
Napi::Value ResetCounts(const Napi::CallbackInfo &info) {
  const zvm::ResetCounts counts = zvm::ThreadResetCounts();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("restored", Napi::Number::New(info.Env(), static_cast<double>(counts.restored)));
  out.Set("droppedCopies", Napi::Number::New(info.Env(), static_cast<double>(counts.dropped_copies)));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Define(env));
  exports.Set("STOP_TRAP", Napi::Number::New(env, ZVM_STOP_TRAP));
  exports.Set("STOP_FAULT", Napi::Number::New(env, ZVM_STOP_FAULT));
  exports.Set("STOP_TIMEOUT", Napi::Number::New(env, ZVM_STOP_TIMEOUT));
  exports.Set("createMemoryImage", Napi::Function::New(env, zvm_addon::CreateMemoryImage, "createMemoryImage"));
  exports.Set("resetCounts", Napi::Function::New(env, ResetCounts, "resetCounts"));
  exports.Set("avx", Napi::Boolean::New(env, zvm::HostHasAvx()));
  exports.Set("timeoutSignal", Napi::Number::New(env, zvm::TimeoutSignal()));
  return exports;
}

}  // namespace

NODE_API_MODULE(zerovm_native, Init)
