#pragma once
// The tools `kubectl arl mcp` serves: sandboxes from a warm pool, commands
// and files in them, through the same code as `sandbox create`, `sandbox
// exec` and `sandbox cp` (the pod proxy, the sandbox's own token).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kubectl/context.h"
#include "kubectl/proxy.h"
#include "mcp/tools.h"

namespace arl::kubectl {

struct McpToolOptions {
  std::string pool;     // --pool: what sandbox_create uses when not told
  std::string sandbox;  // --sandbox: the tools act on it, sandbox_create refuses
};

class SandboxTools : public mcp::ToolBox {
 public:
  SandboxTools(PluginContext& ctx, McpToolOptions options);

  std::vector<mcp::ToolSpec> tools() const override;
  mcp::ToolResult call(const std::string& name, const nlohmann::json& arguments, const mcp::Progress& progress,
                       std::stop_token stop) override;

 private:
  /// The `sandbox` argument, else the current sandbox; Error naming what to do when neither.
  std::string pick(const nlohmann::json& arguments) const;
  /// pick()'s sandbox resolved to its pod and token; a missing one says what to do.
  SandboxTarget target(const nlohmann::json& arguments) const;

  mcp::ToolResult create(const nlohmann::json& a, const mcp::Progress& progress);
  mcp::ToolResult run(const nlohmann::json& a, const mcp::Progress& progress, std::stop_token stop);
  mcp::ToolResult write(const nlohmann::json& a);
  mcp::ToolResult read(const nlohmann::json& a);
  mcp::ToolResult list(const nlohmann::json& a);
  mcp::ToolResult release(const nlohmann::json& a);

  PluginContext& ctx_;
  McpToolOptions opts_;
  std::string current_;  // --sandbox, then the last one created
};

/// Entries of the list_files script's output (`TYPE\tSIZE\tNAME` lines after
/// the directory's absolute path), sorted by name; a size only for files.
nlohmann::json parse_file_list(const std::string& output);

}  // namespace arl::kubectl
