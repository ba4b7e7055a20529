#include "core/duration.h"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "core/error.h"

namespace arl::core {
namespace {

// Hand-written: Go's time.ParseDuration grammar has no C++ library
// equivalent among our dependencies, and we need only its positive subset.
std::optional<double> parse_ms(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (start == i) return std::nullopt;
    std::string number(s.substr(start, i - start));
    if (number.front() == '.' || number.back() == '.' || number.find('.') != number.rfind('.')) return std::nullopt;
    double value = std::stod(number);
    size_t ustart = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    double scale;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else return std::nullopt;
    total += value * scale;
  }
  return total;
}

}  // namespace

bool is_valid_duration(std::string_view text) {
  auto ms = parse_ms(text);
  return ms && *ms > 0 && *ms < 1e15;
}

std::chrono::milliseconds parse_duration(std::string_view text, std::string_view field) {
  auto ms = parse_ms(text);
  if (!ms || *ms >= 1e15)
    throw Error(ErrorCode::invalid, fmt::format("{}: invalid duration \"{}\" (use e.g. 30s, 2m, 1h30m, 500ms)", field, text));
  if (*ms <= 0) throw Error(ErrorCode::invalid, fmt::format("{}: duration \"{}\" must be greater than zero", field, text));
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(*ms)));
}

std::string format_duration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms < 1000) return fmt::format("{}ms", ms);
  std::string out;
  int64_t h = ms / 3'600'000, m = (ms / 60'000) % 60, s = (ms / 1000) % 60, rest = ms % 1000;
  if (h) out += fmt::format("{}h", h);
  if (m) out += fmt::format("{}m", m);
  if (s || rest) {
    if (rest) {
      std::string frac = fmt::format("{:03d}", rest);
      while (frac.back() == '0') frac.pop_back();
      out += fmt::format("{}.{}s", s, frac);
    } else {
      out += fmt::format("{}s", s);
    }
  }
  return out;
}

std::string format_age(std::chrono::seconds age) {
  int64_t s = std::max<int64_t>(0, age.count());
  if (s < 120) return fmt::format("{}s", s);
  int64_t m = s / 60;
  if (m < 10) return s % 60 ? fmt::format("{}m{}s", m, s % 60) : fmt::format("{}m", m);
  if (m < 180) return fmt::format("{}m", m);
  int64_t h = m / 60;
  if (h < 8) return m % 60 ? fmt::format("{}h{}m", h, m % 60) : fmt::format("{}h", h);
  if (h < 48) return fmt::format("{}h", h);
  int64_t days = h / 24;
  if (days < 8) return h % 24 ? fmt::format("{}d{}h", days, h % 24) : fmt::format("{}d", days);
  if (days < 365 * 2) return fmt::format("{}d", days);
  return fmt::format("{}y", days / 365);
}

}  // namespace arl::core
