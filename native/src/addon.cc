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
   * (or takes one this thread's earlier sessions left, reset: one holding
   * `will_map` when there is one). */
  static std::unique_ptr<Runner> Open(Napi::Env env, const zvm::MemoryImage *will_map) {
    if (const char *message = zvm::InstallSignalHandlers()) {
      throw Napi::Error::New(env, std::string("native engine: ") + message);
    }
    auto memory = zvm::AcquireReservation(will_map == nullptr ? zvm::kAnonymousBacking : will_map->serial());
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

/* reuseCounts(): this thread's pages restored in place, copies dropped, and sessions that adopted a kept reservation (sandbox.h). */
Napi::Value ReuseCounts(const Napi::CallbackInfo &info) {
  const zvm::ReuseCounts counts = zvm::ThreadReuseCounts();
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("restored", Napi::Number::New(info.Env(), static_cast<double>(counts.restored)));
  out.Set("droppedCopies", Napi::Number::New(info.Env(), static_cast<double>(counts.dropped_copies)));
  out.Set("adopted", Napi::Number::New(info.Env(), static_cast<double>(counts.adopted)));
  return out;
}

/* setKeptSandboxes(count): how many reset reservations each thread keeps (sandbox.h). */
Napi::Value SetKeptSandboxes(const Napi::CallbackInfo &info) {
  const double count = info.Length() >= 1 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(count >= 0 && count <= 64) || count != static_cast<double>(static_cast<size_t>(count))) {
    throw Napi::RangeError::New(info.Env(), "setKeptSandboxes(count): an integer from 0 to 64");
  }
  zvm::SetSpareReservations(static_cast<size_t>(count));
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Session", Session::Define(env));
  exports.Set("STOP_TRAP", Napi::Number::New(env, ZVM_STOP_TRAP));
  exports.Set("STOP_FAULT", Napi::Number::New(env, ZVM_STOP_FAULT));
  exports.Set("STOP_TIMEOUT", Napi::Number::New(env, ZVM_STOP_TIMEOUT));
  exports.Set("createMemoryImage", Napi::Function::New(env, zvm_addon::CreateMemoryImage, "createMemoryImage"));
  exports.Set("reuseCounts", Napi::Function::New(env, ReuseCounts, "reuseCounts"));
  exports.Set("setKeptSandboxes", Napi::Function::New(env, SetKeptSandboxes, "setKeptSandboxes"));
  exports.Set("avx", Napi::Boolean::New(env, zvm::HostHasAvx()));
  exports.Set("timeoutSignal", Napi::Number::New(env, zvm::TimeoutSignal()));
  return exports;
}

}  // namespace

NODE_API_MODULE(zerovm_native, Init)
