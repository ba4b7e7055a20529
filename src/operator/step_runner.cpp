#include "operator/step_runner.h"

#include <fmt/format.h>

#include "core/error.h"
#include "k8s/direct_transport.h"
#include "k8s/sidecar_client.h"

namespace arl::op {
namespace {

class SidecarStepRunner : public sidecar::StepRunner {
 public:
  SidecarStepRunner(const std::string& address, const std::string& token)
      : client_(std::make_unique<k8s::DirectTransport>(k8s::DirectOptions{address, token})) {}
  core::ExecuteResponse execute(const core::ExecuteRequest& req) override { return client_.execute(req); }
  void write_file(const core::FileWriteRequest& req) override { client_.write_file(req); }

 private:
  k8s::SidecarClient client_;
};

}  // namespace

StepRunnerFactory sidecar_runner_factory(int port) {
  return [port](const std::string& pod_ip, const std::string& token) -> std::unique_ptr<sidecar::StepRunner> {
    return std::make_unique<SidecarStepRunner>(fmt::format("{}:{}", pod_ip, port), token);
  };
}

SidecarBinder sidecar_binder(int port) {
  return [port](const std::string& pod_ip, const std::string& pool_token, const std::string& sandbox_token,
                const SandboxSettings& settings) {
    const std::string address = fmt::format("{}:{}", pod_ip, port);
    core::BindRequest req{sandbox_token};
    k8s::ClientOptions o;
    o.read_timeout_seconds = 5;
    try {
      k8s::SidecarClient(std::make_unique<k8s::DirectTransport>(k8s::DirectOptions{address, pool_token}), o).bind(req, settings);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::unauthorized) throw;
      try {
        k8s::SidecarClient(std::make_unique<k8s::DirectTransport>(k8s::DirectOptions{address, sandbox_token}), o).bind(req, settings);
      } catch (const Error& again) {
        // Refusing both tokens: bound to another sandbox (by an operator
        // that stopped before its claim landed). Not a broken pod.
        if (again.code() != ErrorCode::unauthorized) throw;
        throw Error(ErrorCode::conflict, fmt::format("the sidecar at {} is bound to another sandbox", address));
      }
    }
  };
}

}  // namespace arl::op
