#pragma once
// YAML <-> JSON for manifests users write (yaml-cpp does the parsing; this
// maps YAML 1.2 core-schema scalars to JSON types, keeping quoted scalars
// as strings: `"8080"` stays a string, `8080` becomes a number).
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::core {

struct YamlDocument {
  nlohmann::json value;
  int line = 1;  // 1-based line where the document starts
};

/// Every non-empty document of a `---`-separated stream. Throws Error{invalid}
/// with `source:line:column: message` on a parse error.
std::vector<YamlDocument> parse_yaml_documents(std::string_view text, std::string_view source = "<input>");

/// Block-style YAML of a JSON value, as `kubectl get -o yaml` would print it.
std::string to_yaml(const nlohmann::json& value);

}  // namespace arl::core
