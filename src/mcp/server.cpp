#include "mcp/server.h"

#include <algorithm>

#include <fmt/format.h>

#include "mcp/jsonrpc.h"
#include "core/log.h"

namespace arl::mcp {

using nlohmann::json;

const std::vector<std::string>& supported_protocol_versions() {
  static const std::vector<std::string> versions = {"2025-11-25", "2025-06-18", "2025-03-26"};
  return versions;
}

namespace {

/// A protocol error to answer with (thrown inside the server only).
struct RpcError {
  int code;
  std::string message;
};

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += (out.empty() ? "" : "; ") + l;
  return out;
}

}  // namespace

Server::Server(ToolBox& tools, ServerInfo info, Emit emit)
    : tools_(tools), info_(std::move(info)), emit_(std::move(emit)) {}

bool Server::structured() const { return version_ >= "2025-06-18"; }  // date strings order as dates

void Server::handle_line(std::string_view line, std::stop_token stop) {
  // Blank lines (a trailing newline, a stray CR) are not messages.
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
  try {
    auto msg = parse_message(line);
    if (auto* bad = std::get_if<Invalid>(&msg)) {
      log::warn("Rejected message", {{"error", bad->error["error"]["message"].get<std::string>()}});
      emit_(bad->error);
    } else if (auto* reply = std::get_if<Reply>(&msg)) {
      log::debug("Ignored reply", {{"id", reply->id.dump()}});  // we never send requests
    } else {
      handle_call(std::get<Call>(msg), stop);
    }
  } catch (const std::exception& e) {
    // A bug of ours, not the client's: answer what can be answered and go on.
    log::error("Failed to handle message", {{"error", e.what()}});
    emit_(make_error(nullptr, rpc_code::internal_error, std::string("Internal error: ") + e.what()));
  }
}

void Server::handle_call(const Call& call, std::stop_token stop) {
  if (!call.id) {
    if (call.method.rfind("notifications/", 0) != 0) {
      // A request whose id was forgotten: a silent drop would leave the
      // client waiting, so say what is wrong (id null: there is none).
      emit_(make_error(nullptr, rpc_code::invalid_request,
                       fmt::format("Invalid Request: {} is a request and needs an id (a string or an integer)",
                                   call.method)));
      return;
    }
    // Notifications get no reply, known or not (initialized; cancelled is
    // acted on by the reader, which sees it while the call runs).
    log::debug("Received notification", {{"method", call.method}});
    return;
  }
  const json& id = *call.id;
  try {
    json result;
    if (call.method == "initialize") {
      if (!version_.empty()) throw RpcError{rpc_code::invalid_request, "Invalid Request: already initialized"};
      result = initialize(call.params);
    } else if (call.method == "ping") {
      result = json::object();
    } else if (call.method == "tools/list" || call.method == "tools/call") {
      if (version_.empty())
        throw RpcError{rpc_code::invalid_request, "Invalid Request: send initialize before " + call.method};
      if (call.method == "tools/list") {
        result = list_tools();
      } else {
        auto r = call_tool(call.params, stop);
        if (!r) return;
        result = std::move(*r);
      }
    } else {
      throw RpcError{rpc_code::method_not_found,
                     fmt::format("Method not found: {} (this server answers initialize, ping, tools/list, "
                                 "tools/call)",
                                 call.method)};
    }
    emit_(make_result(id, std::move(result)));
  } catch (const RpcError& e) {
    log::warn("Rejected request", {{"method", call.method}, {"error", e.message}});
    emit_(make_error(id, e.code, e.message));
  }
}

json Server::initialize(const json& params) {
  if (!params.contains("protocolVersion") || !params["protocolVersion"].is_string())
    throw RpcError{rpc_code::invalid_params, "Invalid params: initialize needs params.protocolVersion (a string)"};
  const auto asked = params["protocolVersion"].get<std::string>();
  const auto& known = supported_protocol_versions();
  // The spec: answer the client's version when supported, else one of ours;
  // the client then decides whether it can go on.
  version_ = std::find(known.begin(), known.end(), asked) != known.end() ? asked
                                                                         : std::string(kDefaultProtocolVersion);
  log::info("Initialized MCP session", {{"protocolVersion", version_}, {"asked", asked}});
  json server_info = {{"name", info_.name}, {"version", info_.version}};
  if (structured()) server_info["title"] = info_.title;
  json result = {{"protocolVersion", version_},
                 {"capabilities", {{"tools", {{"listChanged", false}}}}},
                 {"serverInfo", server_info}};
  if (!info_.instructions.empty()) result["instructions"] = info_.instructions;
  return result;
}

json Server::list_tools() const {
  json list = json::array();
  for (const auto& t : tools_.tools()) {
    json tool = {{"name", t.name}, {"description", t.description}, {"inputSchema", t.input_schema}};
    if (structured()) {
      tool["title"] = t.title;
      if (!t.output_schema.is_null()) tool["outputSchema"] = t.output_schema;
    }
    list.push_back(std::move(tool));
  }
  return {{"tools", list}};
}

std::optional<json> Server::call_tool(const json& params, std::stop_token stop) {
  if (!params.contains("name") || !params["name"].is_string())
    throw RpcError{rpc_code::invalid_params, "Invalid params: tools/call needs params.name (a string)"};
  const auto name = params["name"].get<std::string>();
  const json arguments = params.value("arguments", json::object());
  if (!arguments.is_object())
    throw RpcError{rpc_code::invalid_params, "Invalid params: params.arguments of tools/call must be an object"};
  const auto specs = tools_.tools();
  auto spec = std::find_if(specs.begin(), specs.end(), [&](const ToolSpec& t) { return t.name == name; });
  if (spec == specs.end()) {
    std::string names;
    for (const auto& t : specs) names += (names.empty() ? "" : ", ") + t.name;
    throw RpcError{rpc_code::invalid_params, fmt::format("Unknown tool: {} (tools: {})", name, names)};
  }

  Progress progress = [](const std::string&) {};
  const json token = params.value("/_meta/progressToken"_json_pointer, json());
  if (token.is_string() || token.is_number_integer()) {
    // Numbered here so progress only ever grows, as the spec requires.
    progress = [this, token, n = 0](const std::string& message) mutable {
      json p = {{"progressToken", token}, {"progress", ++n}};
      if (!message.empty()) p["message"] = message;
      emit_(make_notification("notifications/progress", std::move(p)));
    };
  }

  ToolResult r;
  if (auto problems = check_arguments(spec->input_schema, arguments); !problems.empty()) {
    // The model can fix its own arguments: a tool error it reads, not a
    // protocol error its client swallows.
    r = ToolResult::error(fmt::format("{}: bad arguments: {}. Fix them as the tool's inputSchema says and call again.",
                                      name, join_lines(problems)));
  } else {
    try {
      r = tools_.call(name, arguments, progress, stop);
    } catch (const std::exception& e) {
      r = ToolResult::error(e.what());
    } catch (...) {
      r = ToolResult::error(name + ": failed with an unknown error");
    }
  }
  if (stop.stop_requested()) {
    log::info("Cancelled tool call", {{"tool", name}});
    return std::nullopt;
  }
  if (r.is_error) log::info("Failed tool call", {{"tool", name}, {"error", r.text}});
  json result = {{"content", json::array({{{"type", "text"}, {"text", r.text}}})}, {"isError", r.is_error}};
  if (!r.is_error && structured()) result["structuredContent"] = r.structured;
  return result;
}

}  // namespace arl::mcp
