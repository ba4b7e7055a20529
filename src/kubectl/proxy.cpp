#include "kubectl/proxy.h"

#include <ostream>
#include <sstream>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/names.h"
#include "k8s/kubeconfig.h"
#include "k8s/rest_client.h"
#include "k8s/status_error.h"

namespace arl::kubectl {

using nlohmann::json;

std::string proxy_path(const std::string& ns, const std::string& pod, const std::string& endpoint) {
  return fmt::format("/api/v1/namespaces/{}/pods/{}:{}/proxy/{}", ns, pod, kSidecarPort, endpoint);
}

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
  t.token = core::base64_decode(data, "secret " + secret_name + " data.token");
  return t;
}

namespace {

Error proxy_error(int status, const std::string& body, const SandboxTarget& t) {
  try {
    auto j = json::parse(body);
    if (j.is_object() && j.contains("error") && j["error"].is_string())
      return Error(k8s::code_for_status(status, j.value("reason", "")),
                   fmt::format("sandbox {}: the executor refused the request: {}", t.sandbox,
                               j["error"].get<std::string>()));
  } catch (const json::exception&) {
  }
  auto e = k8s::status_error(status, body, &k8s::resources::pods, t.pod);
  return Error(e.code(), fmt::format("sandbox {} (pod {}): {}", t.sandbox, t.pod, e.what()));
}

std::vector<std::pair<std::string, std::string>> token_header(const SandboxTarget& t) {
  return {{std::string(kTokenHeader), t.token}};
}

}  // namespace

bool ExecStreamPrinter::feed(std::string_view chunk) {
  return lines_.feed(chunk, [&](std::string_view line) {
    core::ExecEvent ev;
    try {
      ev = json::parse(line).get<core::ExecEvent>();
    } catch (const std::exception&) {
      return true;  // not an event (an error body): the caller reports it by status
    }
    using T = core::ExecEvent::Type;
    switch (ev.type) {
      case T::start:
        pid_ = ev.pid;
        break;
      case T::stdout_data:
        out_ << ev.data << std::flush;
        break;
      case T::stderr_data:
        err_ << ev.data << std::flush;
        break;
      case T::exit:
        exit_code_ = ev.exit_code;
        timed_out_ = ev.timed_out;
        return false;
      case T::error:
        error_ = ev.data.empty() ? "the executor reported an error" : ev.data;
        return false;
    }
    return true;
  });
}

ExecOutcome exec_stream(PluginContext& ctx, const SandboxTarget& t, const core::ExecuteRequest& req,
                        std::ostream& out, std::ostream& err, std::stop_token stop) {
  core::ExecuteRequest r = req;
  r.stream = true;
  json body = r;
  ExecStreamPrinter printer(out, err);
  std::string raw;  // kept for the error message of a refused request
  const double secs = r.timeout_seconds.value_or(core::kSidecarDefaultTimeoutSeconds);
  // A read may legitimately wait as long as the command runs silently.
  auto read_timeout = std::chrono::milliseconds(static_cast<int64_t>(secs * 1000) + 30000);
  int status = ctx.rest().stream_request(
      "POST", proxy_path(t.ns, t.pod, "execute"), body.dump(), "application/json",
      [&](std::string_view chunk) {
        if (raw.size() < 65536) raw.append(chunk.substr(0, 65536 - raw.size()));
        return printer.feed(chunk);
      },
      stop, read_timeout, token_header(t));
  if (status < 200 || status >= 300) throw proxy_error(status, raw, t);
  ExecOutcome o;
  o.exit_code = printer.exit_code();
  o.timed_out = printer.timed_out();
  o.error = printer.error();
  o.pid = printer.pid();
  o.interrupted = stop.stop_requested() && !printer.finished();
  if (!printer.finished() && !o.interrupted)
    o.error = "the connection to the executor ended before the command finished";
  return o;
}

Collected exec_collect(PluginContext& ctx, const SandboxTarget& t, const std::vector<std::string>& command) {
  core::ExecuteRequest req;
  req.command = command;
  req.timeout_seconds = 300;
  std::ostringstream out, err;
  auto o = exec_stream(ctx, t, req, out, err);
  if (!o.error.empty()) throw Error(ErrorCode::unavailable, fmt::format("sandbox {}: {}", t.sandbox, o.error));
  return Collected{out.str(), err.str(), o.exit_code.value_or(1)};
}

void write_remote_file(PluginContext& ctx, const SandboxTarget& t, const std::string& path, const std::string& bytes,
                       unsigned mode) {
  core::FileWriteRequest req;
  req.path = path;
  req.content = core::base64_encode(bytes);
  req.encoding = "base64";
  req.mode = mode;
  json body = req;
  auto resp = ctx.rest().raw("POST", proxy_path(t.ns, t.pod, "files"), body.dump(), "application/json",
                             token_header(t));
  if (resp.status < 200 || resp.status >= 300) throw proxy_error(resp.status, resp.body, t);
}

void signal_remote(PluginContext& ctx, const SandboxTarget& t, int pid, const std::string& signal) {
  json body = core::SignalRequest{pid, signal};
  auto resp = ctx.rest().raw("POST", proxy_path(t.ns, t.pod, "signal"), body.dump(), "application/json",
                             token_header(t));
  if (resp.status < 200 || resp.status >= 300) throw proxy_error(resp.status, resp.body, t);
}

}  // namespace arl::kubectl
