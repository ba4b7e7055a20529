#pragma once
// A sandbox's own sidecar token, derived rather than stored
// (docs/design.md "Sandbox tokens"): HMAC-SHA256 keyed with the pool token
// (Secret arl-pool-<pool>, key `token`) over "arl-sandbox-token/v1:" + the
// Sandbox's metadata.uid, as 64 lowercase hex digits. The operator hands it
// to the pod at allocation (POST /bind); the kubectl plugin and the SDK
// compute the same from the Secret they already read. Nothing is written
// per allocation, and one sandbox's token says nothing about another's or
// about the pool token.
#include <string>
#include <string_view>

namespace arl::k8s {

inline constexpr std::string_view kSandboxTokenContext = "arl-sandbox-token/v1:";

/// Throws Error{invalid} naming the sandbox when the pool token or uid is empty.
std::string sandbox_token(std::string_view pool_token, std::string_view sandbox_uid);

}  // namespace arl::k8s
