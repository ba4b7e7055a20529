// `kubectl arl mcp`: the sandbox tools as a Model Context Protocol server on
// stdin/stdout, for LLM agents (Claude Desktop, IDEs, agent frameworks).
// stdout carries JSON-RPC only; logs go to stderr.
#include <condition_variable>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>

#include <CLI/CLI.hpp>

#include "build_info.h"
#include "kubectl/context.h"
#include "kubectl/mcp_tools.h"
#include "mcp/server.h"
#include "core/log.h"

namespace arl::kubectl {
namespace {

constexpr const char* kInstructions =
    "These tools run code in ARL sandboxes: isolated Linux containers on Kubernetes with a /workspace "
    "directory. Call sandbox_create once (unless the server already works on a sandbox), then run_command, "
    "write_file, read_file and list_files as often as needed, and sandbox_release when done.";

/// Lines from stdin, read on their own thread so that a cancellation is
/// seen while the call it cancels still runs.
class Inbox {
 public:
  Inbox() : reader_([this] { read(); }) {}
  ~Inbox() { reader_.join(); }  // returns once stdin is closed

  /// The next line and the stop token of the call it may start; nullopt at EOF.
  std::optional<std::pair<std::string, std::stop_token>> next() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !lines_.empty() || closed_; });
    if (lines_.empty()) return std::nullopt;
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    current_ = mcp::request_id(line);
    stop_ = std::stop_source();
    return std::pair{std::move(line), stop_.get_token()};
  }

 private:
  void read() {
    std::string line;
    while (std::getline(std::cin, line)) {
      auto cancelled = mcp::cancelled_request(line);
      std::lock_guard lock(mu_);
      if (cancelled && current_ && *cancelled == *current_) stop_.request_stop();
      lines_.push_back(std::move(line));
      cv_.notify_one();
    }
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool closed_ = false;
  std::optional<nlohmann::json> current_;  // id of the request being handled
  std::stop_source stop_;
  std::thread reader_;  // last: starts once the members above exist
};

void serve(PluginContext& ctx, const McpToolOptions& options) {
  SandboxTools tools(ctx, options);
  mcp::Server server(tools, {"arl", "ARL sandboxes", build::kVersion, kInstructions}, [](const nlohmann::json& m) {
    // One message per line, flushed: the client reads line by line.
    std::cout << mcp::serialize(m) << '\n' << std::flush;
  });
  log::info("Started MCP server", {{"namespace", ctx.ns()},
                                   {"pool", options.pool.empty() ? "<none>" : options.pool},
                                   {"sandbox", options.sandbox.empty() ? "<none>" : options.sandbox}});
  // One call at a time, in order: a long run_command delays the next
  // message; its progress notifications keep the client informed, and a
  // notifications/cancelled for it stops it.
  Inbox inbox;
  while (auto next = inbox.next()) server.handle_line(next->first, next->second);
  log::info("Stopped MCP server: stdin closed");
}

}  // namespace

void add_mcp_command(CLI::App& app, std::shared_ptr<PluginContext> ctx) {
  auto options = std::make_shared<McpToolOptions>();
  auto* cmd = add_command(
      app, "mcp", "Serve sandboxes to LLM agents over the Model Context Protocol (stdio)",
      "  kubectl arl mcp --pool py                 # sandbox_create takes sandboxes from pool py\n"
      "  kubectl arl mcp --sandbox my-sb -n agents # the tools work on an existing sandbox\n"
      "\n"
      "The server speaks MCP (JSON-RPC 2.0, one message per line, protocol 2025-06-18; also 2025-11-25 and\n"
      "2025-03-26) on stdin/stdout; it is started by an MCP client, not typed by hand. Logs go to stderr.\n"
      "Tools: sandbox_create, run_command, write_file, read_file, list_files, sandbox_release.\n"
      "\n"
      "Register it in an MCP client, e.g. Claude Desktop's claude_desktop_config.json\n"
      "(kubectl-arl on PATH; KUBECONFIG as for kubectl):\n"
      "  {\n"
      "    \"mcpServers\": {\n"
      "      \"arl\": {\n"
      "        \"command\": \"kubectl\",\n"
      "        \"args\": [\"arl\", \"mcp\", \"--pool\", \"py\", \"-n\", \"agents\"],\n"
      "        \"env\": {\"KUBECONFIG\": \"/home/me/.kube/config\"}\n"
      "      }\n"
      "    }\n"
      "  }\n"
      "Try it by hand: printf '%s\\n' '{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
      "{\"protocolVersion\":\"2025-06-18\"}}' | kubectl arl mcp --pool py\n"
      "See docs/mcp.md for the tools' arguments and results.\n");
  auto* pool = cmd->add_option("--pool", options->pool, "The warm pool sandbox_create takes sandboxes from");
  auto* sandbox = cmd->add_option("--sandbox", options->sandbox,
                                  "Work on this existing sandbox (sandbox_create is then refused)");
  pool->excludes(sandbox);
  cmd->callback([ctx, options] { serve(*ctx, *options); });
}

}  // namespace arl::kubectl
