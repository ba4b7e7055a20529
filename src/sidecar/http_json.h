#pragma once
// Request bodies parsed with limits that hold before anything is copied: a
// 60 MB body of one-byte arguments would otherwise become ~2 GB of JSON
// nodes and strings before the command could be refused. A number that does
// not fit a double is the client's error, named by its field.
#include <cstddef>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/sidecar_protocol.h"

namespace arl::sidecar {

/// Far above real use and above what execve(2) itself accepts (ARG_MAX is
/// 2 MiB of arguments and environment with the default 8 MiB stack, at most
/// 6 MiB with any stack limit).
inline constexpr size_t kMaxJsonElements = 262144;         // per array or object
inline constexpr size_t kMaxArgumentBytes = 16 << 20;      // command + env strings
inline constexpr size_t kMaxJsonDepth = 64;

/// The body as a JSON object (empty body: {}). Throws Error{invalid} naming
/// the field for malformed JSON, a limit, or an out-of-range number.
nlohmann::json parse_request_json(std::string_view body);

template <typename T>
T parse_request(std::string_view body) {
  T out{};
  from_json(parse_request_json(body), out);
  return out;
}

}  // namespace arl::sidecar
