#pragma once
// How the task controller reaches a sandbox's executor. Production: the
// sidecar HTTP client at <podIP>:8080 with the pool token. Unit tests: a
// sidecar server in-process, or a scripted runner.
#include <functional>
#include <memory>
#include <string>

#include "core/sidecar_protocol.h"

namespace arl::op {

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual core::ExecuteResponse execute(const core::ExecuteRequest& req) = 0;
  virtual void write_file(const core::FileWriteRequest& req) = 0;
};

using StepRunnerFactory = std::function<std::unique_ptr<StepRunner>(const std::string& pod_ip, const std::string& token)>;

/// Runner over the real sidecar client.
StepRunnerFactory sidecar_runner_factory(int port = 8080);

}  // namespace arl::op
