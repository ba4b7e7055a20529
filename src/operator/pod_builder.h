#pragma once
// Turns a WarmPool's template into a runnable ARL pod (docs/design.md, "Pod
// injection"): the user's image stays as it is; the static `arl` is copied in
// by an init container and becomes the first container's entrypoint.
#include <string>

#include <nlohmann/json.hpp>

namespace arl::op {

struct PodBuildOptions {
  std::string arl_image;  // image holding /arl, used by the init container
  std::string name_suffix;  // 5 chars [a-z0-9]; random when empty
};

/// The pod for `pool` (a WarmPool as JSON, with metadata.uid set).
nlohmann::json build_pool_pod(const nlohmann::json& pool, const PodBuildOptions& opts);

/// The per-pool Secret holding the sidecar token, owned by the pool.
nlohmann::json build_pool_secret(const nlohmann::json& pool, const std::string& token);
std::string pool_secret_name(const std::string& pool);

/// ownerReference (controller=true) to `owner`.
nlohmann::json controller_ref(const nlohmann::json& owner);

/// n random characters from [a-z0-9] (pod name suffixes).
std::string random_suffix(size_t n = 5);
/// 32 random bytes as hex (OpenSSL RAND_bytes).
std::string random_token();

}  // namespace arl::op
