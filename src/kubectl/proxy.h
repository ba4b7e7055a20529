#pragma once
// Talking to a sandbox's executor: k8s::SidecarClient through the API
// server's pod proxy (k8s/pod_proxy_transport.h), so users need no
// port-forward and no route to pod IPs.
#include <string>
#include <vector>

#include "kubectl/context.h"
#include "k8s/pod_proxy_transport.h"
#include "k8s/sidecar_client.h"

namespace arl::kubectl {

/// A sandbox's pod and its own token (derived from its pool's).
using SandboxTarget = k8s::PodProxyTarget;

/// The sandbox's pod and token. Throws Error{not_found} for a missing
/// sandbox, Error{unavailable} when it has no pod yet (with what to do).
SandboxTarget resolve_sandbox(PluginContext& ctx, const std::string& ns, const std::string& name);

/// The sandbox's executor through the pod proxy.
k8s::SidecarClient sidecar_client(PluginContext& ctx, const SandboxTarget& t);

/// Runs a command and collects its whole output (streaming, so the
/// executor's buffered-reply cap does not apply).
struct Collected {
  std::string stdout_data;
  std::string stderr_data;
  int exit_code = 0;
};
Collected exec_collect(PluginContext& ctx, const SandboxTarget& t, const std::vector<std::string>& command);

/// A file's bytes, through `base64` (binary-safe in the JSON event stream),
/// or `cat` in images without coreutils' base64. Error{not_found} with
/// `SANDBOX:PATH: <the command's complaint>` when it cannot be read.
std::string read_remote_file(PluginContext& ctx, const SandboxTarget& t, const std::string& path);

/// POST /files with base64 content.
void write_remote_file(PluginContext& ctx, const SandboxTarget& t, const std::string& path,
                       const std::string& bytes, unsigned mode);

}  // namespace arl::kubectl
