#pragma once
// JSON-RPC 2.0 framing as MCP's stdio transport uses it: one message per
// line, no batches (MCP 2025-06-18 removed them). Pure: a line in, a
// classified message or the error reply it deserves out.
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <nlohmann/json.hpp>

namespace arl::mcp {

namespace rpc_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
}  // namespace rpc_code

/// A request (has an id) or a notification (no id).
struct Call {
  std::string method;
  nlohmann::json params = nlohmann::json::object();  // absent params: {}
  std::optional<nlohmann::json> id;                  // string or integer; nullopt: notification
};

/// A reply the client sent to us (we send no requests, so it is only logged).
struct Reply {
  nlohmann::json id;
};

/// A line that is not a valid message: `error` is the JSON-RPC error response
/// to send (id null when the id could not be read).
struct Invalid {
  nlohmann::json error;
};

using Message = std::variant<Call, Reply, Invalid>;

/// Classifies one line of input.
Message parse_message(std::string_view line);

/// The id of a line that is a request (nullopt for anything else).
std::optional<nlohmann::json> request_id(std::string_view line);
/// params.requestId of a notifications/cancelled line (nullopt for anything else).
std::optional<nlohmann::json> cancelled_request(std::string_view line);

/// {"jsonrpc":"2.0","id":id,"result":result}
nlohmann::json make_result(const nlohmann::json& id, nlohmann::json result);
/// {"jsonrpc":"2.0","id":id,"error":{"code","message"}}; id null when unknown.
nlohmann::json make_error(const nlohmann::json& id, int code, const std::string& message);
/// {"jsonrpc":"2.0","method":method,"params":params}
nlohmann::json make_notification(const std::string& method, nlohmann::json params);

/// One line of output: compact JSON, invalid UTF-8 (command output, binary
/// files) replaced rather than thrown on, never a raw newline inside.
std::string serialize(const nlohmann::json& message);

}  // namespace arl::mcp
