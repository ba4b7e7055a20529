#pragma once
// What the MCP server needs from the tools it serves, and the argument check
// it runs before calling one. The tools that talk to the cluster live in
// kubectl/mcp_tools.cpp; tests serve fakes.
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::mcp {

struct ToolSpec {
  std::string name;
  std::string title;
  std::string description;
  nlohmann::json input_schema;   // JSON Schema of the arguments (type object)
  nlohmann::json output_schema;  // JSON Schema of ToolResult::structured
};

/// A tool's outcome. An error is a value the model reads and acts on
/// ("call sandbox_create first"), not a protocol failure.
struct ToolResult {
  nlohmann::json structured = nlohmann::json::object();  // matches the output schema; unused on error
  std::string text;                                      // what a model reads
  bool is_error = false;

  static ToolResult error(std::string message) { return {nlohmann::json::object(), std::move(message), true}; }
};

/// Reports progress of a running call; the server numbers the reports and
/// sends them only when the client asked (a progressToken).
using Progress = std::function<void(const std::string& message)>;

class ToolBox {
 public:
  virtual ~ToolBox() = default;
  virtual std::vector<ToolSpec> tools() const = 0;
  /// Runs a tool whose arguments already passed check_arguments. May throw
  /// (arl::Error or anything): the server turns it into an error result.
  /// `stop`: the client cancelled the call; stop early if the tool can.
  virtual ToolResult call(const std::string& name, const nlohmann::json& arguments, const Progress& progress,
                          std::stop_token stop) = 0;
};

/// Every problem of `arguments` against the subset of JSON Schema our tools
/// use (type object, properties with type string|integer|number|boolean|
/// object|array, enum, items of type string, required,
/// additionalProperties false), one line each as `FIELD: PROBLEM`; empty
/// when they fit.
std::vector<std::string> check_arguments(const nlohmann::json& schema, const nlohmann::json& arguments);

}  // namespace arl::mcp
