#pragma once
// Names shared by every part of ARL: API group, labels, annotations, the
// pod-injection contract of docs/design.md.
#include <string_view>

namespace arl {

inline constexpr std::string_view kGroup = "arl.infra.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "arl.infra.io/v1alpha1";

namespace labels {
inline constexpr std::string_view kWarmPool = "arl.infra.io/warmpool";
inline constexpr std::string_view kPodState = "arl.infra.io/pod-state";
inline constexpr std::string_view kSandbox = "arl.infra.io/sandbox";
/// The short twins the manuals select on (`kubectl get pods -l warmpool=P`,
/// `-l sandbox=S`); set in the same writes as their arl.infra.io/ forms.
inline constexpr std::string_view kWarmPoolShort = "warmpool";
inline constexpr std::string_view kSandboxShort = "sandbox";
inline constexpr std::string_view kPodStateReady = "ready";
inline constexpr std::string_view kPodStateAllocated = "allocated";
}  // namespace labels

inline constexpr std::string_view kDefaultWorkDir = "/workspace";
inline constexpr int kSidecarPort = 8080;
inline constexpr std::string_view kSidecarPortName = "arl";
inline constexpr std::string_view kTokenHeader = "X-Arl-Token";
inline constexpr std::string_view kPoolSecretPrefix = "arl-pool-";
inline constexpr std::string_view kPoolSecretKey = "token";
inline constexpr std::string_view kBinVolume = "arl-bin";
inline constexpr std::string_view kWorkspaceVolume = "workspace";
inline constexpr std::string_view kCheckpointVolume = "arl-checkpoints";
inline constexpr std::string_view kCheckpointDir = "/arl-checkpoints";
inline constexpr std::string_view kInitContainer = "arl-init";
/// The init container's uid and gid (the distroless "nonroot" user).
inline constexpr int kInitUser = 65532;

}  // namespace arl
