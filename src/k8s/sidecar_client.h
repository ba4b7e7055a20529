#pragma once
// The client of the sidecar HTTP API (core/sidecar_protocol.h) for the
// operator, the kubectl plugin, the benches and tests, over a transport
// (k8s/sidecar_transport.h): direct, or through the API server's pod proxy.
// Calls on one client are serialized by the transport; use one client per
// concurrent caller.
//
// Errors are arl::Error, the same for every transport: 401 -> unauthorized,
// 403 -> forbidden, 404 -> not_found, 409 -> conflict, other 4xx -> invalid,
// 5xx and connection failures -> unavailable, read timeouts -> timeout. The
// message is the transport's (k8s::SidecarTransport::refusal_message) with
// the sidecar's error text.
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "core/bind_settings.h"
#include "core/checkpoint_import.h"
#include "core/sidecar_protocol.h"
#include "k8s/sidecar_transport.h"

namespace arl::k8s {

struct ClientOptions {
  /// Read timeout of calls other than /execute; /execute waits for the
  /// request's own timeout plus execute_grace_seconds.
  double read_timeout_seconds = 30;
  double execute_grace_seconds = 10;
};

class SidecarClient {
 public:
  explicit SidecarClient(std::unique_ptr<SidecarTransport> transport, ClientOptions options = {});
  /// Direct to "host:port" (k8s::DirectTransport) with the token in X-Arl-Token.
  SidecarClient(const std::string& address, const std::string& token);
  ~SidecarClient();
  SidecarClient(SidecarClient&&) noexcept;
  SidecarClient& operator=(SidecarClient&&) noexcept;

  core::HealthResponse health();
  core::FileWriteResponse write_file(const core::FileWriteRequest& request);
  /// Buffered execute (request.stream is ignored and sent as false).
  core::ExecuteResponse execute(const core::ExecuteRequest& request);
  /// Streaming execute: on_event gets every event as it arrives (start,
  /// stdout, stderr, then exit); without on_event the output is collected
  /// into the result instead, with no cap unlike the buffered form. The
  /// result has done = true and the exit. `stop` ends the stream early: then
  /// done = false and pid is the command's, still running remotely. An error
  /// event, or a stream that ends before the exit, throws Error{unavailable}.
  /// A background request falls back to the buffered form.
  core::ExecuteResponse execute_stream(const core::ExecuteRequest& request,
                                       const std::function<void(const core::ExecEvent&)>& on_event = {},
                                       std::stop_token stop = {});
  core::SignalResponse signal(const core::SignalRequest& request);
  core::SignalResponse signal(int pid, const std::string& signal_name = "SIGTERM");
  core::ResetResponse reset(const core::ResetRequest& request = {});
  std::vector<core::ProcessInfo> processes();
  /// The allocation handoff: sent with the pool token, after which only
  /// request.token works on this pod; `settings` (the sandbox's env and
  /// working dir) ride on the same request.
  core::BindResponse bind(const core::BindRequest& request, const core::BindSettings& settings = {});

  /// Checkpoints of the workdir (SPEC.md "Checkpoints"); `ref` is an id or a name.
  core::CheckpointInfo checkpoint(const std::string& name = "");
  core::CheckpointList checkpoints();
  core::RestoreResponse restore(const std::string& ref, bool kill_processes = false);
  core::CheckpointDeleted delete_checkpoint(const std::string& ref);
  /// POST /checkpoints/import of the JSON form: this sidecar fetches the
  /// checkpoint from request.source_url itself (pod to pod). The new
  /// checkpoint's info (a restore's counts, when asked for, are not kept).
  core::CheckpointInfo import_checkpoint(const core::CheckpointImportRequest& request);

 private:
  nlohmann::json call(std::string_view method, std::string_view endpoint, const nlohmann::json* body,
                      double timeout_seconds);
  [[noreturn]] void throw_refused(std::string_view what, int status, const std::string& body) const;
  double execute_timeout(const core::ExecuteRequest& request) const;

  std::unique_ptr<SidecarTransport> transport_;
  ClientOptions opts_;
};

}  // namespace arl::k8s
