#include "core/json_reader.h"

#include <fmt/format.h>

#include "core/error.h"

namespace arl::core {

namespace {
const nlohmann::json kNull;
}

void JsonReader::type_error(const char* key, const char* expected) const {
  throw Error(ErrorCode::invalid, fmt::format("{}: must be {}, got {}", child_path(key), expected, j_.at(key).type_name()));
}

JsonReader JsonReader::child(const char* key) const {
  if (!has(key)) return JsonReader(kNull, child_path(key));
  if (!j_.at(key).is_object()) type_error(key, "an object");
  return JsonReader(j_.at(key), child_path(key));
}

std::string JsonReader::str(const char* key, std::string fallback) const {
  if (!has(key)) return fallback;
  if (!j_.at(key).is_string()) type_error(key, "a string");
  return j_.at(key).get<std::string>();
}

std::optional<int64_t> JsonReader::int_opt(const char* key) const {
  if (!has(key)) return std::nullopt;
  const auto& v = j_.at(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float() && v.get<double>() == static_cast<double>(static_cast<int64_t>(v.get<double>())))
    return static_cast<int64_t>(v.get<double>());
  type_error(key, "an integer");
}

bool JsonReader::boolean(const char* key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!j_.at(key).is_boolean()) type_error(key, "true or false");
  return j_.at(key).get<bool>();
}

std::vector<std::string> JsonReader::str_list(const char* key) const {
  std::vector<std::string> out;
  if (!has(key)) return out;
  const auto& v = j_.at(key);
  if (!v.is_array()) type_error(key, "a list of strings");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_string())
      throw Error(ErrorCode::invalid, fmt::format("{}[{}]: must be a string, got {}", child_path(key), i, v[i].type_name()));
    out.push_back(v[i].get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> JsonReader::str_map(const char* key) const {
  std::map<std::string, std::string> out;
  if (!has(key)) return out;
  const auto& v = j_.at(key);
  if (!v.is_object()) type_error(key, "a map of strings");
  for (const auto& [k, val] : v.items()) {
    if (val.is_string()) out[k] = val.get<std::string>();
    else if (val.is_number() || val.is_boolean()) out[k] = val.dump();  // YAML `PORT: 8080` is meant as a string
    else throw Error(ErrorCode::invalid, fmt::format("{}.{}: must be a string, got {}", child_path(key), k, val.type_name()));
  }
  return out;
}

std::vector<JsonReader> JsonReader::items(const char* key) const {
  std::vector<JsonReader> out;
  if (!has(key)) return out;
  const auto& v = j_.at(key);
  if (!v.is_array()) type_error(key, "a list");
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].is_object())
      throw Error(ErrorCode::invalid, fmt::format("{}[{}]: must be an object, got {}", child_path(key), i, v[i].type_name()));
    out.emplace_back(v[i], fmt::format("{}[{}]", child_path(key), i));
  }
  return out;
}

}  // namespace arl::core
