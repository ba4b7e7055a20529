#pragma once
// How the task controller reaches a sandbox's executor. Production: the
// sidecar HTTP client at <podIP>:8080 with the pool token. Unit tests: a
// sidecar server in-process, or a scripted runner.
#include <functional>
#include <memory>
#include <string>

#include "operator/sandbox_env.h"
#include "sidecar/step_runner.h"

namespace arl::op {

using StepRunnerFactory =
    std::function<std::unique_ptr<sidecar::StepRunner>(const std::string& pod_ip, const std::string& token)>;

/// Runner over the real sidecar client.
StepRunnerFactory sidecar_runner_factory(int port = 8080);

/// The allocation handoff: tells the sidecar at pod_ip to accept only
/// sandbox_token from now on (POST /bind, authenticated with pool_token),
/// with the sandbox's env and working dir in the same request.
using SidecarBinder = std::function<void(const std::string& pod_ip, const std::string& pool_token,
                                         const std::string& sandbox_token, const SandboxSettings& settings)>;

/// Over the real sidecar client: one round trip. A sidecar that refuses the
/// pool token (401) may already be ours (the operator restarted after the
/// bind, before the status write): asked again with the sandbox's token, it
/// answers `already`. One that refuses both is bound to another sandbox:
/// arl::Error conflict, as for a 409. Throws arl::Error when the pod cannot
/// be bound.
SidecarBinder sidecar_binder(int port = 8080);

}  // namespace arl::op
