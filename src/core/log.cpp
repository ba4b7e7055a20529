#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/types.h"

namespace arl::log {
namespace {

std::atomic<Format> g_format{Format::text};
std::atomic<bool> g_verbose{false};
std::mutex g_mu;

std::string timestamp() { return core::format_rfc3339_fraction(std::chrono::system_clock::now(), 3); }

void emit(const char* level, const std::string& msg, Fields fields) {
  std::string line;
  if (g_format == Format::json) {
    nlohmann::json j{{"ts", timestamp()}, {"level", level}, {"msg", msg}};
    for (const auto& [k, v] : fields) j[k] = v;
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = fmt::format("{} {:5} {}", timestamp(), level, msg);
    for (const auto& [k, v] : fields) {
      bool quote = v.empty() || v.find_first_of(" \t\"=") != std::string::npos;
      line += quote ? fmt::format(" {}={}", k, nlohmann::json(v).dump()) : fmt::format(" {}={}", k, v);
    }
  }
  line += '\n';
  std::lock_guard lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace

void set_format(Format f) { g_format = f; }
void set_verbose(bool v) { g_verbose = v; }
void info(const std::string& msg, Fields fields) { emit("info", msg, fields); }
void warn(const std::string& msg, Fields fields) { emit("warn", msg, fields); }
void error(const std::string& msg, Fields fields) { emit("error", msg, fields); }
void debug(const std::string& msg, Fields fields) {
  if (g_verbose) emit("debug", msg, fields);
}

}  // namespace arl::log
