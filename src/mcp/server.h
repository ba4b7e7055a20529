#pragma once
// The Model Context Protocol server side, transport aside: one JSON-RPC line
// in, the replies and notifications it causes out (through `emit`). Pure
// apart from the tools it calls, so the protocol is tested with fake tools.
//
// Methods: initialize (version negotiation), notifications/initialized,
// ping, tools/list, tools/call (progress notifications when the request's
// _meta carries a progressToken). Every malformed input gets its JSON-RPC
// error and the server goes on; a tool's failure is a tool result with
// isError, never a protocol error.
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "mcp/jsonrpc.h"
#include "mcp/tools.h"

namespace arl::mcp {

/// The version this server speaks when the client offers one it does not know.
inline constexpr std::string_view kDefaultProtocolVersion = "2025-06-18";
/// Every version the client may ask for and get (newest first).
const std::vector<std::string>& supported_protocol_versions();

struct ServerInfo {
  std::string name = "arl";
  std::string title = "ARL sandboxes";
  std::string version;
  std::string instructions;  // sent in the initialize result: how a model should use the tools
};

class Server {
 public:
  using Emit = std::function<void(const nlohmann::json& message)>;

  Server(ToolBox& tools, ServerInfo info, Emit emit);

  /// Handles one line of input. Never throws. `stop` cancels the call the
  /// line starts (notifications/cancelled seen by the reader meanwhile):
  /// the tool is told, and the call gets no reply, as the spec asks.
  void handle_line(std::string_view line, std::stop_token stop = {});

  /// "" until initialize succeeded.
  const std::string& protocol_version() const { return version_; }

 private:
  void handle_call(const Call& call, std::stop_token stop);
  nlohmann::json initialize(const nlohmann::json& params);
  nlohmann::json list_tools() const;
  /// nullopt: the call was cancelled and gets no reply.
  std::optional<nlohmann::json> call_tool(const nlohmann::json& params, std::stop_token stop);
  /// 2025-06-18 added titles, output schemas and structured content.
  bool structured() const;

  ToolBox& tools_;
  ServerInfo info_;
  Emit emit_;
  std::string version_;
};

}  // namespace arl::mcp
