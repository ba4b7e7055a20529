#pragma once
// Type-checked access to JSON fields that reports the full field path on a
// type mismatch (nlohmann's own errors name neither the field nor the object).
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::core {

class JsonReader {
 public:
  JsonReader(const nlohmann::json& j, std::string path) : j_(j), path_(std::move(path)) {}

  const nlohmann::json& raw() const { return j_; }
  const std::string& path() const { return path_; }
  bool has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }
  std::string child_path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  JsonReader child(const char* key) const;

  std::string str(const char* key, std::string fallback = {}) const;
  std::optional<int64_t> int_opt(const char* key) const;
  int64_t integer(const char* key, int64_t fallback = 0) const { return int_opt(key).value_or(fallback); }
  bool boolean(const char* key, bool fallback = false) const;
  std::vector<std::string> str_list(const char* key) const;
  std::map<std::string, std::string> str_map(const char* key) const;
  /// Each element of the array at `key`, with its indexed path (`spec.steps[1]`).
  std::vector<JsonReader> items(const char* key) const;

 private:
  [[noreturn]] void type_error(const char* key, const char* expected) const;
  const nlohmann::json& j_;
  std::string path_;
};

}  // namespace arl::core
