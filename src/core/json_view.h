#pragma once
// Reads into parsed API objects without copying them. nlohmann's
// `value(key, json::object())` returns a copy of the whole member: reading a
// pod's labels that way copied its metadata on every call, a quarter of the
// operator's CPU in a burst of 200 allocations (perf), so hot paths read
// through these instead.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace arl::core {

/// obj[key] when obj is an object whose member `key` is an object, else an
/// empty object.
inline const nlohmann::json& object_at(const nlohmann::json& obj, std::string_view key) {
  static const nlohmann::json empty = nlohmann::json::object();
  if (!obj.is_object()) return empty;
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : empty;
}

/// obj[key] when it is a string, else "".
inline std::string string_at(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) return {};
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace arl::core
