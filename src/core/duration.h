#pragma once
// Kubernetes-style durations ("30s", "2m", "1h30m", "1.5s", "250ms").
#include <chrono>
#include <string>
#include <string_view>

namespace arl::core {

/// Throws Error{invalid} naming `field` when `text` is not a positive
/// duration of units h, m, s, ms (e.g. `spec.timeout: invalid duration "3x"`).
std::chrono::milliseconds parse_duration(std::string_view text, std::string_view field);

/// true when parse_duration would accept `text`.
bool is_valid_duration(std::string_view text);

/// Shortest canonical form: 90000ms -> "1m30s", 250ms -> "250ms", 1500ms -> "1.5s".
std::string format_duration(std::chrono::milliseconds d);

/// Age as kubectl prints it: 5s, 3m, 2h, 4d (with two units under 10 units: 2m30s).
std::string format_age(std::chrono::seconds age);

}  // namespace arl::core
