#include "kubectl/proxy.h"

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/names.h"
#include "k8s/kubeconfig.h"
#include "k8s/sandbox_token.h"

namespace arl::kubectl {

using nlohmann::json;

SandboxTarget resolve_sandbox(PluginContext& ctx, const std::string& ns, const std::string& name) {
  auto sb = ctx.api().get(k8s::resources::sandboxes, ns, name);
  if (!sb) throw Error(ErrorCode::not_found, fmt::format("sandboxes.arl.infra.io \"{}\" not found", name));
  SandboxTarget t;
  t.ns = ns;
  t.sandbox = name;
  t.pod = sb->value("/status/podName"_json_pointer, std::string());
  std::string phase = sb->value("/status/phase"_json_pointer, std::string("Pending"));
  if (phase == "Released" || phase == "Failed")
    throw Error(ErrorCode::unavailable,
                fmt::format("sandbox {} is {}: its pod is gone; create a new sandbox", name, phase));
  if (t.pod.empty())
    throw Error(ErrorCode::unavailable,
                fmt::format("sandbox {} has no pod yet (phase {}); wait for it with `kubectl arl sandbox create "
                            "--wait` or check its pool with `kubectl arl pool get {}`",
                            name, phase, sb->value("/spec/poolRef"_json_pointer, std::string("POOL"))));
  const std::string pool = sb->value("/spec/poolRef"_json_pointer, std::string());
  const std::string secret_name = std::string(kPoolSecretPrefix) + pool;
  auto secret = ctx.api().get(k8s::resources::secrets, ns, secret_name);
  if (!secret)
    throw Error(ErrorCode::not_found,
                fmt::format("secret \"{}\" (the executor token of pool {}) not found in namespace {}; is the "
                            "operator running?",
                            secret_name, pool, ns));
  auto data = secret->value("/data/token"_json_pointer, std::string());
  if (data.empty())
    throw Error(ErrorCode::invalid, fmt::format("secret \"{}\" has no key \"token\"", secret_name));
  // The pod answers only its sandbox's own token (docs/design.md "Sandbox
  // tokens"), derived from the pool's: reading the pool Secret is the right
  // this needs, as before.
  t.token = k8s::sandbox_token(core::base64_decode(data, "secret " + secret_name + " data.token"),
                               sb->value("/metadata/uid"_json_pointer, std::string()));
  return t;
}

k8s::SidecarClient sidecar_client(PluginContext& ctx, const SandboxTarget& t) {
  k8s::ClientOptions o;
  // Allowance for the API server's hop on top of the command's own timeout.
  o.execute_grace_seconds = 30;
  return k8s::SidecarClient(std::make_unique<k8s::PodProxyTransport>(ctx.rest(), t), o);
}

Collected exec_collect(PluginContext& ctx, const SandboxTarget& t, const std::vector<std::string>& command) {
  core::ExecuteRequest req;
  req.command = command;
  req.timeout_seconds = 300;
  auto r = sidecar_client(ctx, t).execute_stream(req);
  return Collected{std::move(r.stdout_data), std::move(r.stderr_data), r.exit_code};
}

std::string read_remote_file(PluginContext& ctx, const SandboxTarget& t, const std::string& path) {
  auto r = exec_collect(ctx, t, {"base64", path});
  if (r.exit_code == 127) {
    r = exec_collect(ctx, t, {"cat", path});
    if (r.exit_code == 0) return r.stdout_data;
  } else if (r.exit_code == 0) {
    return core::base64_decode(r.stdout_data, "base64 output of " + path);
  }
  auto msg = r.stderr_data;
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  throw Error(ErrorCode::not_found,
              fmt::format("{}:{}: {}", t.sandbox, path, msg.empty() ? "cannot read the file" : msg));
}

void write_remote_file(PluginContext& ctx, const SandboxTarget& t, const std::string& path, const std::string& bytes,
                       unsigned mode) {
  core::FileWriteRequest req;
  req.path = path;
  req.content = core::base64_encode(bytes);
  req.encoding = "base64";
  req.mode = mode;
  sidecar_client(ctx, t).write_file(req);
}

}  // namespace arl::kubectl
