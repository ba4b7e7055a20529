#include "operator/step_runner.h"

#include <fmt/format.h>

#include "sidecar/sidecar_client.h"

namespace arl::op {
namespace {

class SidecarStepRunner : public sidecar::StepRunner {
 public:
  SidecarStepRunner(const std::string& url, const std::string& token) : client_(url, token) {}
  core::ExecuteResponse execute(const core::ExecuteRequest& req) override { return client_.execute(req); }
  void write_file(const core::FileWriteRequest& req) override { client_.write_file(req); }

 private:
  sidecar::SidecarClient client_;
};

}  // namespace

StepRunnerFactory sidecar_runner_factory(int port) {
  return [port](const std::string& pod_ip, const std::string& token) -> std::unique_ptr<sidecar::StepRunner> {
    return std::make_unique<SidecarStepRunner>(fmt::format("{}:{}", pod_ip, port), token);
  };
}

}  // namespace arl::op
