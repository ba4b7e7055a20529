#include "mcp/jsonrpc.h"

#include <fmt/format.h>

namespace arl::mcp {

using nlohmann::json;

namespace {

// MCP narrows JSON-RPC ids: a string or an integer, never null.
bool valid_id(const json& id) { return id.is_string() || id.is_number_integer(); }

Invalid invalid(const json& id, int code, const std::string& message) { return {make_error(id, code, message)}; }

}  // namespace

Message parse_message(std::string_view line) {
  json msg = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded())
    return invalid(nullptr, rpc_code::parse_error,
                   "Parse error: the line is not JSON; send one JSON-RPC 2.0 message per line");
  if (msg.is_array())
    return invalid(nullptr, rpc_code::invalid_request,
                   "Invalid Request: batches (JSON arrays) are not supported; send one message per line");
  if (!msg.is_object())
    return invalid(nullptr, rpc_code::invalid_request, "Invalid Request: a message must be a JSON object");

  const bool has_id = msg.contains("id");
  json id = has_id && valid_id(msg["id"]) ? msg["id"] : json(nullptr);
  if (has_id && id.is_null())
    return invalid(nullptr, rpc_code::invalid_request, "Invalid Request: id must be a string or an integer");
  if (msg.value("jsonrpc", json()) != "2.0")
    return invalid(id, rpc_code::invalid_request, "Invalid Request: jsonrpc must be \"2.0\"");

  if (!msg.contains("method")) {
    if (has_id && (msg.contains("result") || msg.contains("error"))) return Reply{id};
    return invalid(id, rpc_code::invalid_request, "Invalid Request: method is missing");
  }
  if (!msg["method"].is_string())
    return invalid(id, rpc_code::invalid_request, "Invalid Request: method must be a string");
  Call call;
  call.method = msg["method"].get<std::string>();
  if (msg.contains("params")) {
    // JSON-RPC allows by-position params; every MCP method takes an object.
    if (!msg["params"].is_object())
      return invalid(id, rpc_code::invalid_params,
                     fmt::format("Invalid params: params of {} must be an object", call.method));
    call.params = msg["params"];
  }
  if (has_id) call.id = id;
  return call;
}

std::optional<json> request_id(std::string_view line) {
  auto msg = parse_message(line);
  auto* call = std::get_if<Call>(&msg);
  if (!call) return std::nullopt;
  return call->id;
}

std::optional<json> cancelled_request(std::string_view line) {
  auto msg = parse_message(line);
  auto* call = std::get_if<Call>(&msg);
  if (!call || call->id || call->method != "notifications/cancelled") return std::nullopt;
  json id = call->params.value("requestId", json());
  if (!valid_id(id)) return std::nullopt;
  return id;
}

json make_result(const json& id, json result) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json make_error(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

json make_notification(const std::string& method, json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

std::string serialize(const json& message) {
  // dump() escapes control characters, so the line holds no raw newline.
  return message.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace arl::mcp
