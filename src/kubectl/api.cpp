// `kubectl arl sandbox api`: any sidecar endpoint through the API server's pod
// proxy, with the sandbox's token, for users who cannot reach the pod network.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/read_file.h"
#include "k8s/pod_proxy_transport.h"
#include "kubectl/context.h"
#include "kubectl/proxy.h"

namespace arl::kubectl {

namespace {

struct ApiArgs {
  std::string name, method, path, data;
};

// -d JSON, -d @FILE or -d @- (stdin), checked as JSON before anything is sent.
std::string request_body(const std::string& data) {
  std::string text = data.rfind('@', 0) == 0 ? core::read_file_or_stdin(data.substr(1), "-d", std::cin) : data;
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded())
    throw Error(ErrorCode::usage, "-d: the request body is not JSON (give JSON, @FILE or @- for stdin)");
  return parsed.dump();
}

void call_api(PluginContext& ctx, const ApiArgs& a) {
  std::string method = a.method;
  for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (method != "GET" && method != "POST" && method != "DELETE")
    throw Error(ErrorCode::usage, fmt::format("sandbox api: method \"{}\": use GET, POST or DELETE", a.method));
  if (a.path.empty() || a.path[0] != '/')
    throw Error(ErrorCode::usage, fmt::format("sandbox api: path \"{}\" must start with /, e.g. /processes", a.path));
  std::string body;
  if (!a.data.empty()) body = request_body(a.data);
  else if (method == "POST") body = "{}";

  auto target = resolve_sandbox(ctx, ctx.ns(), a.name);
  k8s::PodProxyTransport transport(ctx.rest(), target);
  // The pod proxy's buffered calls wait as long as the API client's request
  // timeout allows (pod_proxy_transport.h), whatever is passed here.
  auto reply = transport.request(method, a.path, body.empty() ? nullptr : &body, std::chrono::milliseconds(0));
  // JSON replies are printed indented; anything else (NDJSON streams) as it came.
  auto parsed = nlohmann::json::parse(reply.body, nullptr, false);
  ctx.out() << (parsed.is_discarded() ? reply.body : parsed.dump(2) + "\n") << std::flush;
  if (reply.status < 200 || reply.status >= 300)
    throw Error(reply.status == 404 ? ErrorCode::not_found : ErrorCode::invalid,
                fmt::format("sandbox {}: {} {}: HTTP {}", a.name, method, a.path, reply.status));
}

}  // namespace

void add_api_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx) {
  auto a = std::make_shared<ApiArgs>();
  auto* api = add_command(
      sandbox, "api", "Call the sandbox's executor API (SPEC.md) through the API server, with the sandbox's token",
      "  kubectl arl sandbox api my-sb GET /health\n"
      "  kubectl arl sandbox api my-sb GET /processes\n"
      "  kubectl arl sandbox api my-sb POST /execute -d '{\"command\": [\"python\", \"-V\"]}'\n"
      "  kubectl arl sandbox api my-sb POST /files -d @file-request.json\n"
      "  kubectl arl sandbox api my-sb POST /checkpoints -d '{\"name\": \"step-3\"}'\n"
      "  kubectl arl sandbox api my-sb POST /checkpoints/step-3/restore -d '{\"kill_processes\": true}'\n"
      "  kubectl arl sandbox api my-sb DELETE /checkpoints/step-3\n\n"
      "Prints the JSON response; exits 1 when the executor answers with an HTTP error. A call waits\n"
      "at most 30 s for its reply: run long commands with `kubectl arl sandbox exec`. From inside\n"
      "the cluster, callers the NetworkPolicy admits can use curl against <podIP>:8080 instead,\n"
      "with the sandbox's own token in the X-Arl-Token header: HMAC-SHA256 keyed with the pool's\n"
      "token (secret arl-pool-<pool>) over \"arl-sandbox-token/v1:<sandbox uid>\", in hex.\n");
  api->add_option("name", a->name, "Sandbox name")->required();
  api->add_option("method", a->method, "GET, POST or DELETE")->required();
  api->add_option("path", a->path, "Executor endpoint, e.g. /execute, /files, /processes, /signal")->required();
  api->add_option("-d,--data", a->data, "Request body: JSON, @FILE, or @- for stdin (POST default: {})");
  api->callback([ctx, a] { call_api(*ctx, *a); });
}

}  // namespace arl::kubectl
