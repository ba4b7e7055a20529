#pragma once
// Talking to a sandbox's executor through the API server's pod proxy
// (POST /api/v1/namespaces/NS/pods/POD:8080/proxy/<endpoint>), so users need
// no port-forward and no route to pod IPs. The pool's token goes in
// X-Arl-Token because Authorization carries the user's own credentials.
#include <functional>
#include <iosfwd>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include "kubectl/context.h"
#include "core/sidecar_protocol.h"
#include "k8s/watch_decoder.h"

namespace arl::kubectl {

struct SandboxTarget {
  std::string ns;
  std::string sandbox;
  std::string pod;
  std::string token;
};

/// The proxy path of an executor endpoint ("execute", "files").
std::string proxy_path(const std::string& ns, const std::string& pod, const std::string& endpoint);

/// The sandbox's pod and token. Throws Error{not_found} for a missing
/// sandbox, Error{unavailable} when it has no pod yet (with what to do).
SandboxTarget resolve_sandbox(PluginContext& ctx, const std::string& ns, const std::string& name);

/// Turns a streamed /execute reply (NDJSON, arbitrary chunking) into output
/// on the given streams and remembers how the command ended.
class ExecStreamPrinter {
 public:
  ExecStreamPrinter(std::ostream& out, std::ostream& err) : out_(out), err_(err) {}
  /// Returns false once the stream's last event (exit or error) was seen.
  bool feed(std::string_view chunk);
  bool finished() const { return exit_code_.has_value() || !error_.empty(); }
  std::optional<int> exit_code() const { return exit_code_; }
  bool timed_out() const { return timed_out_; }
  int pid() const { return pid_; }
  const std::string& error() const { return error_; }

 private:
  std::ostream& out_;
  std::ostream& err_;
  k8s::LineSplitter lines_;
  std::optional<int> exit_code_;
  bool timed_out_ = false;
  int pid_ = 0;
  std::string error_;
};

/// Runs a command with the streaming form and writes its output as it
/// arrives. Returns the printer's final state; throws Error on a refused
/// request (4xx/5xx) with the executor's or API server's message.
struct ExecOutcome {
  std::optional<int> exit_code;
  bool timed_out = false;
  bool interrupted = false;
  int pid = 0;
  std::string error;
};
ExecOutcome exec_stream(PluginContext& ctx, const SandboxTarget& t, const core::ExecuteRequest& req,
                        std::ostream& out, std::ostream& err, std::stop_token stop = {});

/// Runs a command and collects its whole output (streaming, so the
/// executor's buffered-reply cap does not apply).
struct Collected {
  std::string stdout_data;
  std::string stderr_data;
  int exit_code = 0;
};
Collected exec_collect(PluginContext& ctx, const SandboxTarget& t, const std::vector<std::string>& command);

/// POST /files with base64 content.
void write_remote_file(PluginContext& ctx, const SandboxTarget& t, const std::string& path,
                       const std::string& bytes, unsigned mode);

/// POST /signal to a process the executor started.
void signal_remote(PluginContext& ctx, const SandboxTarget& t, int pid, const std::string& signal);


}  // namespace arl::kubectl
