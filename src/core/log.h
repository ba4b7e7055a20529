#pragma once
// Structured log lines on stderr, text (`ts level msg k=v ...`) or JSON
// (`{"ts":..,"level":..,"msg":..,k:v}`), chosen once per process.
#include <initializer_list>
#include <string>
#include <utility>

namespace arl::log {

enum class Format { text, json };
void set_format(Format f);
void set_verbose(bool v);

using Fields = std::initializer_list<std::pair<const char*, std::string>>;
void info(const std::string& msg, Fields fields = {});
void warn(const std::string& msg, Fields fields = {});
void error(const std::string& msg, Fields fields = {});
void debug(const std::string& msg, Fields fields = {});

}  // namespace arl::log
