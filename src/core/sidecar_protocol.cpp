#include "core/sidecar_protocol.h"

#include <cctype>
#include <csignal>
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "core/error.h"
#include "core/checkpoint_import.h"

namespace arl::core {
namespace {

using nlohmann::json;

[[noreturn]] void bad(std::string_view field, std::string_view what) {
  throw Error(ErrorCode::invalid, std::string(field) + ": " + std::string(what));
}

// Absent and null are the same thing to every caller: "use the default".
const json* member(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

void require_object(const json& j, std::string_view what) {
  if (!j.is_object()) bad(what, std::string("must be a JSON object, got ") + j.type_name());
}

std::string get_string(const json& j, const char* key, bool required = false) {
  const json* v = member(j, key);
  if (!v) {
    if (required) bad(key, "required");
    return {};
  }
  if (!v->is_string()) bad(key, std::string("must be a string, got ") + v->type_name());
  auto s = v->get<std::string>();
  if (s.find('\0') != std::string::npos) bad(key, "must not contain NUL bytes");
  return s;
}

bool get_bool(const json& j, const char* key, bool dflt) {
  const json* v = member(j, key);
  if (!v) return dflt;
  if (!v->is_boolean()) bad(key, std::string("must be true or false, got ") + v->type_name());
  return v->get<bool>();
}

std::optional<double> get_number(const json& j, const char* key) {
  const json* v = member(j, key);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad(key, std::string("must be a number, got ") + v->type_name());
  return v->get<double>();
}

std::optional<long long> get_int(const json& j, const char* key) {
  const json* v = member(j, key);
  if (!v) return std::nullopt;
  if (v->is_number_integer()) return v->get<long long>();
  if (v->is_number_float()) {
    double d = v->get<double>();
    if (std::floor(d) == d && std::fabs(d) < 9e15) return static_cast<long long>(d);
  }
  bad(key, std::string("must be an integer, got ") + v->type_name());
}

std::vector<std::string> get_string_array(const json& j, const char* key) {
  const json* v = member(j, key);
  std::vector<std::string> out;
  if (!v) return out;
  if (!v->is_array()) bad(key, std::string("must be an array of strings, got ") + v->type_name());
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    std::string f = std::string(key) + "[" + std::to_string(i) + "]";
    if (!e.is_string()) bad(f, std::string("must be a string, got ") + e.type_name());
    auto s = e.get<std::string>();
    if (s.find('\0') != std::string::npos) bad(f, "must not contain NUL bytes");
    out.push_back(std::move(s));
  }
  return out;
}

unsigned parse_mode(const json& v) {
  long long m = -1;
  if (v.is_number_integer()) {
    m = v.get<long long>();
  } else if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s.empty() || s.size() > 5) bad("mode", "must be octal permission bits such as \"0644\"");
    m = 0;
    for (char c : s) {
      if (c < '0' || c > '7') bad("mode", "must be octal permission bits such as \"0644\", got \"" + s + "\"");
      m = m * 8 + (c - '0');
    }
  } else {
    bad("mode", std::string("must be an integer or an octal string, got ") + v.type_name());
  }
  if (m < 0 || m > 07777) bad("mode", "must be between 0 and 07777");
  return static_cast<unsigned>(m);
}

struct SignalName {
  const char* name;
  int number;
};
constexpr SignalName kSignals[] = {
    {"SIGTERM", SIGTERM}, {"SIGINT", SIGINT},   {"SIGKILL", SIGKILL}, {"SIGHUP", SIGHUP},
    {"SIGQUIT", SIGQUIT}, {"SIGUSR1", SIGUSR1}, {"SIGUSR2", SIGUSR2}, {"SIGSTOP", SIGSTOP},
    {"SIGCONT", SIGCONT},
};

}  // namespace

int parse_signal_name(std::string_view name, std::string_view field) {
  if (name.empty()) bad(field, "must not be empty");
  bool digits = true;
  for (char c : name) digits = digits && c >= '0' && c <= '9';
  if (digits && name.size() <= 3) {
    int n = std::stoi(std::string(name));
    for (const auto& s : kSignals)
      if (s.number == n) return n;
  }
  std::string upper;
  for (char c : name) upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
  if (upper.rfind("SIG", 0) != 0) upper = "SIG" + upper;
  for (const auto& s : kSignals)
    if (upper == s.name) return s.number;
  bad(field, "unknown signal \"" + std::string(name) + "\"; use SIGTERM, SIGINT or SIGKILL");
}

std::string_view event_type_name(ExecEvent::Type t) {
  switch (t) {
    case ExecEvent::Type::start: return "start";
    case ExecEvent::Type::stdout_data: return "stdout";
    case ExecEvent::Type::stderr_data: return "stderr";
    case ExecEvent::Type::exit: return "exit";
    case ExecEvent::Type::error: return "error";
  }
  return "error";
}

std::string field_of_message(std::string_view message) {
  auto pos = message.find(": ");
  if (pos == std::string_view::npos) return {};
  auto f = message.substr(0, pos);
  if (f == "body" || f.find(' ') != std::string_view::npos) return {};
  return std::string(f);
}

// --- ErrorResponse, HealthResponse

void to_json(json& j, const ErrorResponse& v) {
  j = json{{"error", v.error}};
  if (!v.field.empty()) j["field"] = v.field;
  if (!v.reason.empty()) j["reason"] = v.reason;
}
void from_json(const json& j, ErrorResponse& v) {
  require_object(j, "body");
  v.error = get_string(j, "error");
  v.field = get_string(j, "field");
  v.reason = get_string(j, "reason");
}

void to_json(json& j, const HealthResponse& v) { j = json{{"status", v.status}, {"version", v.version}}; }
void from_json(const json& j, HealthResponse& v) {
  require_object(j, "body");
  v.status = get_string(j, "status");
  v.version = get_string(j, "version");
}

// --- files

void to_json(json& j, const FileWriteRequest& v) {
  j = json{{"path", v.path}, {"content", v.content}};
  if (v.mode) j["mode"] = *v.mode;
  if (!v.encoding.empty()) j["encoding"] = v.encoding;
}
void from_json(const json& j, FileWriteRequest& v) {
  require_object(j, "body");
  v.path = get_string(j, "path", true);
  if (v.path.empty()) bad("path", "must not be empty");
  v.content = get_string(j, "content");
  v.mode.reset();
  if (const json* m = member(j, "mode")) v.mode = parse_mode(*m);
  v.encoding = get_string(j, "encoding");
  if (v.encoding == "utf-8" || v.encoding == "utf8" || v.encoding == "text") v.encoding.clear();
  if (!v.encoding.empty() && v.encoding != "base64")
    bad("encoding", "must be \"base64\" or absent, got \"" + v.encoding + "\"");
}

void to_json(json& j, const FileWriteResponse& v) { j = json{{"path", v.path}, {"bytes", v.bytes}}; }
void from_json(const json& j, FileWriteResponse& v) {
  require_object(j, "body");
  v.path = get_string(j, "path");
  v.bytes = static_cast<std::uint64_t>(get_int(j, "bytes").value_or(0));
}

// --- execute

void to_json(json& j, const ExecuteRequest& v) {
  j = json{{"command", v.command}};
  if (!v.working_dir.empty()) j["working_dir"] = v.working_dir;
  if (!v.env.empty()) j["env"] = v.env;
  if (v.timeout_seconds) j["timeout_seconds"] = *v.timeout_seconds;
  if (v.background) j["background"] = true;
  if (v.stdin_data) j["stdin"] = *v.stdin_data;
  if (v.stream) j["stream"] = true;
}
void from_json(const json& j, ExecuteRequest& v) {
  require_object(j, "body");
  if (!member(j, "command")) bad("command", "required: the argv to run, e.g. [\"sh\", \"-c\", \"echo hi\"]");
  v.command = get_string_array(j, "command");
  if (v.command.empty()) bad("command", "must not be empty");
  if (v.command[0].empty()) bad("command[0]", "must not be empty");
  v.working_dir = get_string(j, "working_dir");
  v.env.clear();
  if (const json* e = member(j, "env")) {
    if (!e->is_object()) bad("env", std::string("must be an object of strings, got ") + e->type_name());
    for (const auto& [k, val] : e->items()) {
      if (k.empty() || k.find('=') != std::string::npos || k.find('\0') != std::string::npos)
        bad("env", "invalid variable name \"" + k + "\"");
      if (!val.is_string()) bad("env." + k, std::string("must be a string, got ") + val.type_name());
      auto s = val.get<std::string>();
      if (s.find('\0') != std::string::npos) bad("env." + k, "must not contain NUL bytes");
      v.env[k] = std::move(s);
    }
  }
  v.timeout_seconds = get_number(j, "timeout_seconds");
  // 0 is "no timeout" (a background server, a long job the caller stops
  // itself); a negative or absurdly long one is a mistake worth a 400.
  if (v.timeout_seconds && *v.timeout_seconds < 0)
    bad("timeout_seconds", fmt::format("must be 0 (no timeout) or a number of seconds up to 604800, got {}", *v.timeout_seconds));
  if (v.timeout_seconds && *v.timeout_seconds > 7 * 86400.0)
    bad("timeout_seconds", fmt::format("must be at most 604800 (7 days; 0 means no timeout), got {}", *v.timeout_seconds));
  v.background = get_bool(j, "background", false);
  v.stdin_data.reset();
  if (member(j, "stdin")) {
    const json& s = j["stdin"];
    if (!s.is_string()) bad("stdin", std::string("must be a string, got ") + s.type_name());
    v.stdin_data = s.get<std::string>();
  }
  if (v.background && v.stdin_data) bad("stdin", "not supported with background: true");
  v.stream = get_bool(j, "stream", false);
}

void to_json(json& j, const Usage& v) {
  j = json{{"wall_ms", v.wall_ms}, {"cpu_user_ms", v.cpu_user_ms}, {"cpu_system_ms", v.cpu_system_ms},
           {"max_rss_kb", v.max_rss_kb}};
}
void from_json(const json& j, Usage& v) {
  require_object(j, "usage");
  v.wall_ms = get_number(j, "wall_ms").value_or(0);
  v.cpu_user_ms = get_number(j, "cpu_user_ms").value_or(0);
  v.cpu_system_ms = get_number(j, "cpu_system_ms").value_or(0);
  auto rss = get_int(j, "max_rss_kb").value_or(0);
  v.max_rss_kb = rss > 0 ? static_cast<std::uint64_t>(rss) : 0;
}

namespace {
std::optional<Usage> get_usage(const json& j) {
  const json* u = member(j, "usage");
  if (!u) return std::nullopt;
  return u->get<Usage>();
}
}  // namespace

void to_json(json& j, const ExecuteResponse& v) {
  j = json{{"stdout", v.stdout_data}, {"stderr", v.stderr_data}, {"exit_code", v.exit_code},
           {"done", v.done},          {"duration_ms", v.duration_ms}, {"timed_out", v.timed_out}};
  if (v.pid) j["pid"] = *v.pid;
  if (v.stdout_truncated) j["stdout_truncated"] = true;
  if (v.stderr_truncated) j["stderr_truncated"] = true;
  if (v.usage) j["usage"] = *v.usage;
}
void from_json(const json& j, ExecuteResponse& v) {
  require_object(j, "body");
  v.stdout_data = get_string(j, "stdout");
  v.stderr_data = get_string(j, "stderr");
  v.exit_code = static_cast<int>(get_int(j, "exit_code").value_or(0));
  v.done = get_bool(j, "done", true);
  v.pid.reset();
  if (auto p = get_int(j, "pid")) v.pid = static_cast<int>(*p);
  v.duration_ms = get_number(j, "duration_ms").value_or(0);
  v.timed_out = get_bool(j, "timed_out", false);
  v.stdout_truncated = get_bool(j, "stdout_truncated", false);
  v.stderr_truncated = get_bool(j, "stderr_truncated", false);
  v.usage = get_usage(j);
}

void to_json(json& j, const ExecEvent& v) {
  j = json{{"type", event_type_name(v.type)}};
  switch (v.type) {
    case ExecEvent::Type::start: j["pid"] = v.pid; break;
    case ExecEvent::Type::stdout_data:
    case ExecEvent::Type::stderr_data: j["data"] = v.data; break;
    case ExecEvent::Type::exit:
      j["exit_code"] = v.exit_code;
      j["timed_out"] = v.timed_out;
      j["duration_ms"] = v.duration_ms;
      if (v.usage) j["usage"] = *v.usage;
      break;
    case ExecEvent::Type::error: j["message"] = v.data; break;
  }
}
void from_json(const json& j, ExecEvent& v) {
  require_object(j, "event");
  const auto t = get_string(j, "type", true);
  if (t == "start") v.type = ExecEvent::Type::start;
  else if (t == "stdout") v.type = ExecEvent::Type::stdout_data;
  else if (t == "stderr") v.type = ExecEvent::Type::stderr_data;
  else if (t == "exit") v.type = ExecEvent::Type::exit;
  else if (t == "error") v.type = ExecEvent::Type::error;
  else bad("type", "unknown event type \"" + t + "\"");
  v.data = v.type == ExecEvent::Type::error ? get_string(j, "message") : get_string(j, "data");
  v.pid = static_cast<int>(get_int(j, "pid").value_or(0));
  v.exit_code = static_cast<int>(get_int(j, "exit_code").value_or(0));
  v.timed_out = get_bool(j, "timed_out", false);
  v.duration_ms = get_number(j, "duration_ms").value_or(0);
  v.usage = get_usage(j);
}

// --- signal, reset, processes

void to_json(json& j, const SignalRequest& v) { j = json{{"pid", v.pid}, {"signal", v.signal}}; }
void from_json(const json& j, SignalRequest& v) {
  require_object(j, "body");
  auto pid = get_int(j, "pid");
  if (!pid) bad("pid", "required");
  if (*pid <= 0 || *pid > 0x3fffffff) bad("pid", "must be a positive process id");
  v.pid = static_cast<int>(*pid);
  v.signal = "SIGTERM";
  if (const json* s = member(j, "signal")) {
    if (s->is_number_integer()) v.signal = std::to_string(s->get<long long>());
    else if (s->is_string()) v.signal = s->get<std::string>();
    else bad("signal", std::string("must be a signal name such as \"SIGTERM\", got ") + s->type_name());
  }
  parse_signal_name(v.signal, "signal");
}

void to_json(json& j, const SignalResponse& v) { j = json{{"success", v.success}, {"message", v.message}}; }
void from_json(const json& j, SignalResponse& v) {
  require_object(j, "body");
  v.success = get_bool(j, "success", false);
  v.message = get_string(j, "message");
}

void to_json(json& j, const ResetRequest& v) { j = json{{"preserve_files", v.preserve_files}}; }
void from_json(const json& j, ResetRequest& v) {
  require_object(j, "body");
  v.preserve_files = get_bool(j, "preserve_files", false);
}

void to_json(json& j, const ResetResponse& v) {
  j = json{{"success", v.success}, {"message", v.message}, {"killed", v.killed}};
}
void from_json(const json& j, ResetResponse& v) {
  require_object(j, "body");
  v.success = get_bool(j, "success", true);
  v.message = get_string(j, "message");
  v.killed = static_cast<int>(get_int(j, "killed").value_or(0));
}

bool valid_token(std::string_view token) {
  if (token.size() < 16 || token.size() > 256) return false;
  for (char c : token)
    if (c <= ' ' || c > '~') return false;
  return true;
}

void to_json(json& j, const BindRequest& v) { j = json{{"token", v.token}}; }
void from_json(const json& j, BindRequest& v) {
  require_object(j, "body");
  v.token = get_string(j, "token", true);
  if (!valid_token(v.token)) throw Error(ErrorCode::invalid, "token: must be 16-256 visible ASCII characters without spaces");
}

void to_json(json& j, const BindResponse& v) { j = json{{"bound", v.bound}, {"already", v.already}}; }
void from_json(const json& j, BindResponse& v) {
  require_object(j, "body");
  v.bound = get_bool(j, "bound", false);
  v.already = get_bool(j, "already", false);
}

void to_json(json& j, const ProcessInfo& v) {
  j = json{{"pid", v.pid}, {"command", v.command}, {"running", v.running}, {"background", v.background}};
  if (v.exit_code) j["exit_code"] = *v.exit_code;
  if (!v.started_at.empty()) j["started_at"] = v.started_at;
}
void from_json(const json& j, ProcessInfo& v) {
  require_object(j, "process");
  v.pid = static_cast<int>(get_int(j, "pid").value_or(0));
  v.command = get_string_array(j, "command");
  v.running = get_bool(j, "running", false);
  v.exit_code.reset();
  if (auto e = get_int(j, "exit_code")) v.exit_code = static_cast<int>(*e);
  v.background = get_bool(j, "background", true);
  v.started_at = get_string(j, "started_at");
}

void to_json(json& j, const ProcessesResponse& v) {
  j = json{{"processes", json::array()}};
  for (const auto& p : v.processes) j["processes"].push_back(p);
}
void from_json(const json& j, ProcessesResponse& v) {
  require_object(j, "body");
  v.processes.clear();
  const json* ps = member(j, "processes");
  if (!ps) return;
  if (!ps->is_array()) bad("processes", "must be an array");
  for (const auto& p : *ps) {
    ProcessInfo info;
    from_json(p, info);
    v.processes.push_back(std::move(info));
  }
}

namespace {
std::uint64_t get_count(const json& j, const char* key) {
  auto v = get_int(j, key).value_or(0);
  if (v < 0) bad(key, "must not be negative");
  return static_cast<std::uint64_t>(v);
}
}  // namespace

void to_json(json& j, const CheckpointRequest& v) {
  j = json::object();
  if (!v.name.empty()) j["name"] = v.name;
}
void from_json(const json& j, CheckpointRequest& v) {
  require_object(j, "body");
  v.name = get_string(j, "name");
  if (v.name.empty()) return;
  if (!is_checkpoint_ref(v.name)) bad("name", "must be 1-63 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
}

void to_json(json& j, const CheckpointInfo& v) {
  j = json{{"id", v.id},       {"name", v.name},   {"created_at", v.created_at}, {"files", v.files},
           {"directories", v.directories}, {"bytes", v.bytes}, {"skipped", v.skipped}, {"duration_ms", v.duration_ms}};
}
void from_json(const json& j, CheckpointInfo& v) {
  require_object(j, "checkpoint");
  v.id = get_string(j, "id", true);
  v.name = get_string(j, "name");
  v.created_at = get_string(j, "created_at");
  v.files = get_count(j, "files");
  v.directories = get_count(j, "directories");
  v.bytes = get_count(j, "bytes");
  v.skipped = get_count(j, "skipped");
  v.duration_ms = get_number(j, "duration_ms").value_or(0);
}

void to_json(json& j, const CheckpointList& v) {
  j = json{{"checkpoints", json::array()}, {"used_bytes", v.used_bytes}, {"max_bytes", v.max_bytes}};
  for (const auto& c : v.checkpoints) j["checkpoints"].push_back(c);
}
void from_json(const json& j, CheckpointList& v) {
  require_object(j, "body");
  v.checkpoints.clear();
  if (const json* cs = member(j, "checkpoints")) {
    if (!cs->is_array()) bad("checkpoints", "must be an array");
    for (const auto& c : *cs) v.checkpoints.push_back(c.get<CheckpointInfo>());
  }
  v.used_bytes = get_count(j, "used_bytes");
  v.max_bytes = get_count(j, "max_bytes");
}

void to_json(json& j, const CheckpointDeleted& v) { j = json{{"id", v.id}, {"freed_bytes", v.freed_bytes}}; }
void from_json(const json& j, CheckpointDeleted& v) {
  require_object(j, "body");
  v.id = get_string(j, "id", true);
  v.freed_bytes = get_count(j, "freed_bytes");
}

void to_json(json& j, const RestoreRequest& v) { j = json{{"kill_processes", v.kill_processes}}; }
void from_json(const json& j, RestoreRequest& v) {
  require_object(j, "body");
  v.kill_processes = get_bool(j, "kill_processes", false);
}

void to_json(json& j, const RestoreResponse& v) {
  j = json{{"id", v.id},           {"written", v.written}, {"removed", v.removed},
           {"unchanged", v.unchanged}, {"killed", v.killed},   {"duration_ms", v.duration_ms}};
}
void from_json(const json& j, RestoreResponse& v) {
  require_object(j, "body");
  v.id = get_string(j, "id", true);
  v.written = get_count(j, "written");
  v.removed = get_count(j, "removed");
  v.unchanged = get_count(j, "unchanged");
  v.killed = static_cast<int>(get_int(j, "killed").value_or(0));
  v.duration_ms = get_number(j, "duration_ms").value_or(0);
}

}  // namespace arl::core
