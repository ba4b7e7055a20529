#include "mcp/tools.h"

#include <algorithm>

#include <fmt/format.h>

namespace arl::mcp {

using nlohmann::json;

namespace {

bool has_type(const json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "integer") return v.is_number_integer();
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return true;  // a type this checker does not know: let the tool decide
}

std::string a_or_an(const std::string& type) {
  return (type == "integer" || type == "object" || type == "array") ? "an " + type : "a " + type;
}

}  // namespace

std::vector<std::string> check_arguments(const json& schema, const json& arguments) {
  std::vector<std::string> problems;
  if (!arguments.is_object()) return {"arguments: must be an object"};
  const json props = schema.value("properties", json::object());
  for (const auto& name : schema.value("required", json::array()))
    if (!arguments.contains(name.get<std::string>()))
      problems.push_back(fmt::format("{}: required ({})", name.get<std::string>(),
                                     a_or_an(props.value(name.get<std::string>(), json::object()).value("type", "value"))));
  for (const auto& [name, value] : arguments.items()) {
    if (!props.contains(name)) {
      if (schema.value("additionalProperties", true) == false)
        problems.push_back(fmt::format("{}: unknown argument (known: {})", name, [&] {
          std::string known;
          for (const auto& [k, _] : props.items()) known += (known.empty() ? "" : ", ") + k;
          return known;
        }()));
      continue;
    }
    const json& p = props[name];
    const std::string type = p.value("type", "");
    if (!type.empty() && !has_type(value, type)) {
      problems.push_back(fmt::format("{}: must be {}", name, a_or_an(type)));
      continue;
    }
    if (p.contains("enum") && std::find(p["enum"].begin(), p["enum"].end(), value) == p["enum"].end())
      problems.push_back(fmt::format("{}: must be one of {}", name, p["enum"].dump()));
    if (type == "array" && p.contains("items")) {
      const std::string item_type = p["items"].value("type", "");
      for (std::size_t i = 0; i < value.size(); ++i)
        if (!item_type.empty() && !has_type(value[i], item_type))
          problems.push_back(fmt::format("{}[{}]: must be {}", name, i, a_or_an(item_type)));
    }
    if (type == "object" && p.contains("additionalProperties") && p["additionalProperties"].is_object()) {
      const std::string value_type = p["additionalProperties"].value("type", "");
      for (const auto& [k, v] : value.items())
        if (!value_type.empty() && !has_type(v, value_type))
          problems.push_back(fmt::format("{}.{}: must be {}", name, k, a_or_an(value_type)));
    }
    if (p.contains("minimum") && value.is_number() && value.get<double>() < p["minimum"].get<double>())
      problems.push_back(fmt::format("{}: must be at least {}", name, p["minimum"].dump()));
  }
  return problems;
}

}  // namespace arl::mcp
