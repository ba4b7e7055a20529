#pragma once
// A small client of the sidecar HTTP API, used by the operator to run task
// steps and by tests. One keep-alive connection per client; calls on one
// client are serialized (use one client per concurrent caller).
//
// Errors are arl::Error: 401 -> unauthorized, 403 -> forbidden, 404 ->
// not_found, other 4xx -> invalid (message = the server's error text),
// connection failures and 5xx -> unavailable, read timeouts -> timeout.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/sidecar_protocol.h"

namespace arl::sidecar {

struct ClientOptions {
  /// "host:port", "http://host:port" or "host" (port 8080).
  std::string base_url;
  /// Sent as `X-Arl-Token` (works directly and through the API server's pod proxy).
  std::string token;
  double connect_timeout_seconds = 5;
  /// Read timeout of calls other than /execute; /execute waits for the
  /// request's own timeout plus execute_grace_seconds.
  double read_timeout_seconds = 30;
  double execute_grace_seconds = 10;
};

class SidecarClient {
 public:
  explicit SidecarClient(ClientOptions options);
  SidecarClient(const std::string& base_url, const std::string& token);
  ~SidecarClient();
  SidecarClient(const SidecarClient&) = delete;
  SidecarClient& operator=(const SidecarClient&) = delete;
  SidecarClient(SidecarClient&&) noexcept;
  SidecarClient& operator=(SidecarClient&&) noexcept;

  core::HealthResponse health();
  core::FileWriteResponse write_file(const core::FileWriteRequest& request);
  /// Buffered execute (request.stream is ignored and sent as false).
  core::ExecuteResponse execute(const core::ExecuteRequest& request);
  /// Streaming execute: on_event gets every event as it arrives (start,
  /// stdout, stderr, then exit). Returns the aggregate of the events, as the
  /// buffered form would have answered. An "error" event throws
  /// Error{unavailable}. A background request falls back to the buffered form.
  core::ExecuteResponse execute_stream(const core::ExecuteRequest& request,
                                       const std::function<void(const core::ExecEvent&)>& on_event);
  core::SignalResponse signal(const core::SignalRequest& request);
  core::SignalResponse signal(int pid, const std::string& signal_name = "SIGTERM");
  core::ResetResponse reset(const core::ResetRequest& request = {});
  std::vector<core::ProcessInfo> processes();

  const ClientOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arl::sidecar
