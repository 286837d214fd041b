/*
 * Node-API glue for the Unicorn emulation engine: the `Session` class of
 * session_wrap.h (the native engine's surface) over zvm_uc::Emulator, plus
 * libunicorn's version and what the start-up check of the libunicorn
 * repairs found (whether the interposers are in effect, and each repair).
 *
 * Pipeline position: src/emulator/unicorn.ts -> here -> emulator.cc. Nothing
 * else loads this addon.
 */
#include <napi.h>
#include <unicorn/unicorn.h>

#include <cstdint>
#include <memory>
#include <string>

#include "../session_wrap.h"
#include "emulator.h"
#include "qemu_hooks.h"

namespace {

/* Per Node environment (the main thread, each worker): the idle engines its sessions reuse. */
struct AddonData {
  std::shared_ptr<zvm_uc::InstancePool> pool = std::make_shared<zvm_uc::InstancePool>();
};

struct UnicornTraits {
  using Runner = zvm_uc::Emulator;
  static constexpr int kStopTrap = zvm_uc::kStopTrap;
  static constexpr int kStopFault = zvm_uc::kStopFault;

  /* Runs the repairs' check (once per process), maps the guest memory and
   * opens an emulator on it, with an engine of this environment's pool. */
  /* One emulator per environment, reset between sessions (emulator.h): there is no choice of sandbox to make for `will_map`. */
  static std::unique_ptr<Runner> Open(Napi::Env env, const zvm::MemoryImage * /* will_map */) {
    zvm_uc::CheckQemuHooks();
    auto emulator = std::make_unique<Runner>(env.GetInstanceData<AddonData>()->pool);
    const std::string error = emulator->Open();
    if (!error.empty()) {
      emulator->Dispose(true);
      throw Napi::Error::New(env, "unicorn engine: " + error);
    }
    return emulator;
  }
  /* The guest sees the same %r15 as on the native engine (emulator.h). */
  static uint64_t Base(const Runner &) { return zvm_uc::kBase; }
  /* What JavaScript views alias: the session's setup is applied first (emulator.h, memory()). */
  static uint8_t *Host(Runner &emulator) { return emulator.ExposedHost(); }
  static std::string MapImage(Runner &emulator, const zvm::MemoryImage &image, uint64_t address, uint64_t size, int protection) {
    return emulator.MapImage(image, address, size, protection);
  }
};

using Session = zvm_addon::SessionWrap<UnicornTraits>;

/* repairs(): what the start-up check of the libunicorn repairs found (runs
 * the check on first call). */
Napi::Value Repairs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const zvm_uc::HookStatus &status = zvm_uc::CheckQemuHooks();
  Napi::Object result = Napi::Object::New(env);
  result.Set("interposers", Napi::Boolean::New(env, status.interposers));
  result.Set("fastStores", Napi::Boolean::New(env, status.fast_stores));
  result.Set("preciseFaults", Napi::Boolean::New(env, status.precise_faults));
  result.Set("detail", Napi::String::New(env, status.detail));
  return result;
}

/* blockReuse(): this environment's counts of warm states kept and adopted (emulator.cc, "Translated blocks kept"). */
Napi::Value BlockReuse(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const zvm_uc::InstancePool &pool = *env.GetInstanceData<AddonData>()->pool;
  Napi::Object result = Napi::Object::New(env);
  result.Set("kept", Napi::Number::New(env, static_cast<double>(pool.residents_made)));
  result.Set("adopted", Napi::Number::New(env, static_cast<double>(pool.residents_adopted)));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("Session", Session::Define(env));
  exports.Set("createMemoryImage", Napi::Function::New(env, zvm_addon::CreateMemoryImage, "createMemoryImage"));
  exports.Set("STOP_TRAP", Napi::Number::New(env, zvm_uc::kStopTrap));
  exports.Set("STOP_FAULT", Napi::Number::New(env, zvm_uc::kStopFault));
  exports.Set("STOP_TIMEOUT", Napi::Number::New(env, zvm_uc::kStopTimeout));
  /* the loaded library's major.minor.patch (uc_version's value holds a byte of each) */
  unsigned major = 0, minor = 0;
  const unsigned version = uc_version(&major, &minor);
  exports.Set("version", Napi::String::New(env, std::to_string(major) + "." + std::to_string(minor) + "." +
                                                    std::to_string((version >> 8) & 0xff)));
  exports.Set("repairs", Napi::Function::New(env, Repairs, "repairs"));
  exports.Set("blockReuse", Napi::Function::New(env, BlockReuse, "blockReuse"));
  return exports;
}

}  // namespace

NODE_API_MODULE(zerovm_unicorn, Init)
