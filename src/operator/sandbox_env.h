#pragma once
// Sandbox.spec.env and spec.workingDir, resolved at allocation into what the
// pod's sidecar gets in POST /bind (docs/design.md "Per-sandbox settings").
// The resolution is pure over a lookup, so its rows are table-tested; the
// controller's lookup GETs the Secret or ConfigMap through a short cache.
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/bind_settings.h"
#include "core/sandbox_settings.h"

namespace arl::op {

/// What the sidecar is handed besides the token (core/bind_settings.h).
/// Values may be secrets: never logged, written to status or put in an Event.
using SandboxSettings = core::BindSettings;

/// Why the settings cannot be resolved: the sandbox fails with `reason`
/// (EnvSecretNotFound, EnvConfigMapNotFound, EnvKeyNotFound) before any pod
/// is claimed. The message names the entry, object and key, never a value.
struct EnvFailure {
  std::string reason;
  std::string message;
  bool operator==(const EnvFailure&) const = default;
};

struct ResolvedSettings {
  SandboxSettings settings;
  std::optional<EnvFailure> failure;
};

/// Reads a Secret (secret = true) or ConfigMap of the sandbox's namespace:
/// the object, or nullopt when it does not exist. Other errors throw.
using EnvLookup = std::function<std::optional<nlohmann::json>(bool secret, const std::string& name)>;

/// `ns`: the sandbox's namespace, named in failure messages.
ResolvedSettings resolve_settings(const core::SandboxSettingsSpec& spec, const std::string& ns, const EnvLookup& lookup);

/// Secrets and ConfigMaps read for allocations, kept `ttl`: a burst of
/// sandboxes naming one Secret reads it once, and a fixed Secret is seen
/// within the ttl. Absent objects are cached too (the failure repeats).
class EnvObjectCache {
 public:
  using Clock = std::chrono::steady_clock;
  EnvObjectCache() = default;  // not explicit: Context is aggregate-initialized
  explicit EnvObjectCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}
  std::optional<nlohmann::json> get(const std::string& key, Clock::time_point now,
                                    const std::function<std::optional<nlohmann::json>()>& fetch);

 private:
  struct Entry {
    Clock::time_point at;
    std::optional<nlohmann::json> obj;
  };
  std::chrono::milliseconds ttl_{2000};
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace arl::op
