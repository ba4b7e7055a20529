#pragma once
// How the task controller reaches a sandbox's executor. Production: the
// sidecar HTTP client at <podIP>:8080 with the pool token. Unit tests: a
// sidecar server in-process, or a scripted runner.
#include <functional>
#include <memory>
#include <string>

#include "sidecar/step_runner.h"

namespace arl::op {

using StepRunnerFactory =
    std::function<std::unique_ptr<sidecar::StepRunner>(const std::string& pod_ip, const std::string& token)>;

/// Runner over the real sidecar client.
StepRunnerFactory sidecar_runner_factory(int port = 8080);

}  // namespace arl::op
