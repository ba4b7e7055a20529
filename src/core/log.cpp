#include "core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace arl::log {
namespace {

std::atomic<Format> g_format{Format::text};
std::atomic<bool> g_verbose{false};
std::mutex g_mu;

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, ms);
}

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
