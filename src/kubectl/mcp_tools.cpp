#include "kubectl/mcp_tools.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stop_token>
#include <thread>

#include <fmt/format.h>

#include "kubectl/output.h"
#include "kubectl/proxy.h"
#include "kubectl/sandbox.h"
#include "core/base64.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/validation.h"

namespace arl::kubectl {

using nlohmann::json;
using mcp::ToolResult;

namespace {

// A model's context is small: keep the tail of long output (where errors
// are) and say it was cut.
constexpr std::size_t kOutputCap = 64 * 1024;
constexpr std::size_t kProgressCap = 2000;
constexpr double kDefaultTimeoutSeconds = 120;
constexpr std::size_t kReadCap = 1024 * 1024;
constexpr int kListCap = 1000;
constexpr std::chrono::seconds kHeartbeat{5};

const json kSandboxArg = {{"type", "string"},
                          {"description", "Sandbox name; default: the current one (the last sandbox_create, or "
                                          "the server's --sandbox)"}};

json object_schema(json properties, json required) {
  return {{"type", "object"}, {"properties", std::move(properties)}, {"required", std::move(required)},
          {"additionalProperties", false}};
}

json str(const std::string& description) { return {{"type", "string"}, {"description", description}}; }

struct Capped {
  std::string data;
  bool truncated = false;
  void append(const std::string& chunk) {
    data += chunk;
    if (data.size() > kOutputCap) {
      data.erase(0, data.size() - kOutputCap);
      truncated = true;
    }
  }
};

bool valid_utf8(const std::string& s) {
  try {
    (void)json(s).dump();
    return true;
  } catch (const json::type_error&) {
    return false;
  }
}

// Lists a directory with what every image has (sh, find, wc): no GNU
// -printf, no ls parsing. $1 path, $2 recursive (1/0), $3 max entries + 1.
constexpr const char* kListScript = R"sh(
[ -e "$1" ] || { echo "$1: no such file or directory" >&2; exit 2; }
[ -d "$1" ] || { echo "$1: not a directory (read it with read_file)" >&2; exit 2; }
cd -- "$1" || exit 2
pwd
if [ "$2" = 1 ]; then find . -mindepth 1; else find . -mindepth 1 -maxdepth 1; fi | head -n "$3" |
while IFS= read -r f; do
  f=${f#./}
  if [ -L "$f" ]; then t=symlink; elif [ -d "$f" ]; then t=directory; elif [ -f "$f" ]; then t=file; else t=other; fi
  s=-; [ "$t" = file ] && s=$(wc -c < "$f")
  printf '%s\t%s\t%s\n' "$t" "$s" "$f"
done
)sh";

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  return s;
}

}  // namespace

json parse_file_list(const std::string& output) {
  std::istringstream in(output);
  std::string line;
  std::getline(in, line);  // the directory's absolute path
  json entries = json::array();
  while (std::getline(in, line)) {
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos) continue;
    json e = {{"name", line.substr(t2 + 1)}, {"type", line.substr(0, t1)}};
    auto size = trim(line.substr(t1 + 1, t2 - t1 - 1));
    if (e["type"] == "file" && !size.empty() && size.find_first_not_of("0123456789") == std::string::npos)
      e["size"] = std::stoull(size);
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const json& a, const json& b) { return a["name"].get<std::string>() < b["name"].get<std::string>(); });
  return entries;
}

SandboxTools::SandboxTools(PluginContext& ctx, McpToolOptions options)
    : ctx_(ctx), opts_(std::move(options)), current_(opts_.sandbox) {}

std::vector<mcp::ToolSpec> SandboxTools::tools() const {
  const json sandbox_out = object_schema(
      {{"sandbox", str("Sandbox name")}, {"namespace", str("Its namespace")}, {"pool", str("Its warm pool")},
       {"pod", str("The pod it runs in")}, {"phase", str("Ready or Bound")}},
      {"sandbox", "namespace", "pool", "pod", "phase"});
  return {
      {"sandbox_create", "Create sandbox",
       "Take a fresh sandbox (an isolated Linux container with a /workspace directory) from a warm pool, in "
       "milliseconds when the pool has an idle pod. It becomes the current sandbox that the other tools use. "
       "Release it with sandbox_release when done.",
       object_schema({{"pool", str("Warm pool to take the sandbox from; default: the server's --pool")},
                      {"name", str("Sandbox name; default: generated from the pool name")},
                      {"ttl", str("Delete the sandbox after it has been idle this long, e.g. 30m or 1h")}},
                     json::array()),
       sandbox_out},
      {"run_command", "Run a shell command",
       "Run a command with /bin/sh -c in the sandbox and return its stdout, stderr and exit code once it ends. "
       "Output arrives as progress notifications while it runs. A non-zero exit code is a result, not an error. "
       "Start servers in the background (`nohup cmd > log 2>&1 &`), as the command ends when its shell exits.",
       object_schema({{"command", str("Shell command line, e.g. `python3 main.py --n 3 | tail -5`")},
                      {"workdir", str("Working directory; default /workspace; relative paths are under it")},
                      {"env", {{"type", "object"},
                               {"additionalProperties", {{"type", "string"}}},
                               {"description", "Extra environment variables for this command"}}},
                      {"timeout_seconds", {{"type", "number"},
                                           {"minimum", 0},
                                           {"description", "Kill the command after this many seconds (default "
                                                           "120; 0: never)"}}},
                      {"stdin", str("Text given to the command on its standard input")},
                      {"sandbox", kSandboxArg}},
                     {"command"}),
       object_schema({{"stdout", str("Standard output (the last 64 KiB)")},
                      {"stderr", str("Standard error (the last 64 KiB)")},
                      {"exit_code", {{"type", "integer"}}},
                      {"timed_out", {{"type", "boolean"}}},
                      {"duration_ms", {{"type", "number"}}},
                      {"stdout_truncated", {{"type", "boolean"}}},
                      {"stderr_truncated", {{"type", "boolean"}}}},
                     {"stdout", "stderr", "exit_code", "timed_out", "duration_ms"})},
      {"write_file", "Write a file",
       "Write a file in the sandbox atomically, creating parent directories. Relative paths are in the sandbox's working dir (its spec.workingDir, else /workspace).",
       object_schema({{"path", str("File path, e.g. src/main.py or /tmp/x")},
                      {"content", str("The file's content: text, or base64 with encoding base64")},
                      {"encoding", {{"type", "string"}, {"enum", {"utf-8", "base64"}}, {"description", "Default utf-8"}}},
                      {"mode", str("Permission bits in octal, e.g. 0755; default 0644")},
                      {"sandbox", kSandboxArg}},
                     {"path", "content"}),
       object_schema({{"path", str("Absolute path written")}, {"bytes", {{"type", "integer"}}}}, {"path", "bytes"})},
      {"read_file", "Read a file",
       "Read a file of the sandbox (up to 1 MiB). Text comes back as is; binary content (not UTF-8) as base64, "
       "with encoding saying which.",
       object_schema({{"path", str("File path; relative paths are in the sandbox's working dir (default /workspace)")},
                      {"encoding", {{"type", "string"},
                                    {"enum", {"utf-8", "base64"}},
                                    {"description", "base64 to get the bytes encoded; default utf-8 when the file "
                                                    "is text"}}},
                      {"sandbox", kSandboxArg}},
                     {"path"}),
       object_schema({{"path", str("The path read")},
                      {"content", str("The content, as encoding says")},
                      {"encoding", {{"type", "string"}, {"enum", {"utf-8", "base64"}}}},
                      {"bytes", {{"type", "integer"}, {"description", "The file's size"}}},
                      {"truncated", {{"type", "boolean"}, {"description", "Only the first 1 MiB was returned"}}}},
                     {"path", "content", "encoding", "bytes", "truncated"})},
      {"list_files", "List files",
       "List a directory of the sandbox: names, types (file, directory, symlink, other) and file sizes.",
       object_schema({{"path", str("Directory; default /workspace; relative paths are under it")},
                      {"recursive", {{"type", "boolean"}, {"description", "Include subdirectories' contents"}}},
                      {"sandbox", kSandboxArg}},
                     json::array()),
       object_schema({{"path", str("Absolute path of the directory")},
                      {"entries", {{"type", "array"},
                                   {"items", object_schema({{"name", str("Path relative to the directory")},
                                                            {"type", {{"type", "string"},
                                                                      {"enum", {"file", "directory", "symlink",
                                                                                "other"}}}},
                                                            {"size", {{"type", "integer"}}}},
                                                           {"name", "type"})}}},
                      {"truncated", {{"type", "boolean"}, {"description", "More than 1000 entries: only the first"}}}},
                     {"path", "entries", "truncated"})},
      {"sandbox_release", "Release sandbox",
       "Release a sandbox: its pod is deleted with everything in it, never reused. Call it when the work is done.",
       object_schema({{"sandbox", kSandboxArg}}, json::array()),
       object_schema({{"sandbox", str("The sandbox released")}, {"released", {{"type", "boolean"}}}},
                     {"sandbox", "released"})},
  };
}

ToolResult SandboxTools::call(const std::string& name, const json& a, const mcp::Progress& progress,
                               std::stop_token stop) {
  if (name == "sandbox_create") return create(a, progress);
  if (name == "run_command") return run(a, progress, stop);
  if (name == "write_file") return write(a);
  if (name == "read_file") return read(a);
  if (name == "list_files") return list(a);
  if (name == "sandbox_release") return release(a);
  throw Error(ErrorCode::internal, "no tool " + name);
}

SandboxTarget SandboxTools::target(const json& a) const {
  const auto sb = pick(a);
  try {
    return resolve_sandbox(ctx_, ctx_.ns(), sb);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found || e.what() != fmt::format("sandboxes.arl.infra.io \"{}\" not found", sb))
      throw;
    throw Error(ErrorCode::not_found,
                fmt::format("{} in namespace {}: call sandbox_create for a new sandbox, or pass sandbox, the name "
                            "of an existing one (`kubectl arl sandbox list -n {}`)",
                            e.what(), ctx_.ns(), ctx_.ns()));
  }
}

std::string SandboxTools::pick(const json& a) const {
  if (a.contains("sandbox")) return a["sandbox"].get<std::string>();
  if (!current_.empty()) return current_;
  throw Error(ErrorCode::invalid,
              "no sandbox yet: call sandbox_create first (or pass sandbox, the name of an existing one)");
}

ToolResult SandboxTools::create(const json& a, const mcp::Progress& progress) {
  if (!opts_.sandbox.empty())
    return ToolResult::error(fmt::format(
        "this server works on sandbox {} (started with --sandbox): use the other tools on it directly; to create "
        "sandboxes, start `kubectl arl mcp` with --pool instead",
        opts_.sandbox));
  const std::string pool = a.value("pool", opts_.pool);
  if (pool.empty())
    return ToolResult::error("sandbox_create: no pool given: pass pool (`kubectl arl pool list` shows the warm "
                             "pools), or start `kubectl arl mcp` with --pool");
  if (a.contains("ttl")) {
    try {
      core::parse_duration(a["ttl"].get<std::string>(), "sandbox_create: ttl");
    } catch (const Error& e) {
      return ToolResult::error(std::string(e.what()) + " (use e.g. 30m or 1h)");
    }
  }
  // keepAlive: the sandbox serves many commands until sandbox_release.
  auto obj = sandbox_from_flags(a.value("name", ""), pool, true, a.value("ttl", ""), "");
  core::throw_if_invalid(fmt::format("Sandbox \"{}\" is invalid:", a.value("name", "")), core::validate_object(obj));
  const std::string ns = ctx_.ns();
  obj["metadata"]["namespace"] = ns;
  if (!ctx_.api().get(k8s::resources::warm_pools, ns, pool))
    return ToolResult::error(fmt::format("warm pool {} not found in namespace {}: pass the name of an existing one "
                                         "(`kubectl arl pool list -n {}` shows them)",
                                         pool, ns, ns));
  auto created = ctx_.api().create(k8s::resources::sandboxes, ns, obj);
  const std::string sb = created.value("/metadata/name"_json_pointer, std::string());
  progress(fmt::format("sandbox {} created, waiting for a pod of pool {}", sb, pool));
  std::string last;
  auto ready = wait_sandbox_ready(ctx_, ns, sb, [&](const json& o) {
    auto phase = o.value("/status/phase"_json_pointer, std::string("Pending"));
    if (phase != last) progress(fmt::format("sandbox {}: {}", sb, last = phase));
  });
  current_ = sb;
  json out = {{"sandbox", sb},
              {"namespace", ns},
              {"pool", pool},
              {"pod", ready.value("/status/podName"_json_pointer, std::string())},
              {"phase", ready.value("/status/phase"_json_pointer, std::string())}};
  return {out, fmt::format("sandbox {} is ready (pod {}, namespace {}); the other tools now use it by default",
                           sb, out["pod"].get<std::string>(), ns)};
}

ToolResult SandboxTools::run(const json& a, const mcp::Progress& progress, std::stop_token stop) {
  core::ExecuteRequest req;
  req.command = {"/bin/sh", "-c", a["command"].get<std::string>()};
  req.working_dir = a.value("workdir", "");
  req.env = a.value("env", std::map<std::string, std::string>{});
  req.timeout_seconds = a.value("timeout_seconds", kDefaultTimeoutSeconds);
  if (a.contains("stdin")) req.stdin_data = a["stdin"].get<std::string>();
  auto t = target(a);
  auto client = sidecar_client(ctx_, t);
  Capped out, err;
  // Progress comes from the output stream and from the heartbeat thread.
  std::mutex progress_mu;
  auto report = [&](const std::string& m) {
    std::lock_guard lock(progress_mu);
    progress(m);
  };
  auto on_event = [&](const core::ExecEvent& ev) {
    using T = core::ExecEvent::Type;
    if (ev.type == T::start) report(fmt::format("started (pid {})", ev.pid));
    if (ev.type != T::stdout_data && ev.type != T::stderr_data) return;
    (ev.type == T::stdout_data ? out : err).append(ev.data);
    // The chunk itself is the progress: a watching client sees output live.
    std::string msg = ev.type == T::stderr_data ? "[stderr] " + ev.data : ev.data;
    if (msg.size() > kProgressCap) msg = msg.substr(0, kProgressCap) + "...";
    report(msg);
  };
  // A silent command (a build, a download) still reports: clients that
  // reset their request timeout on progress keep waiting for it.
  std::jthread heartbeat([&](std::stop_token stop) {
    std::mutex m;
    std::condition_variable_any cv;
    for (int elapsed = 0;;) {
      std::unique_lock lock(m);
      if (cv.wait_for(lock, stop, kHeartbeat, [] { return false; }) || stop.stop_requested()) return;
      elapsed += static_cast<int>(kHeartbeat.count());
      report(fmt::format("still running ({}s)", elapsed));
    }
  });
  auto r = client.execute_stream(req, on_event, stop);
  heartbeat.request_stop();
  heartbeat.join();
  if (!r.done) {
    // Cancelled by the client: stop the command too, as Ctrl-C does for `sandbox exec`.
    if (r.pid) {
      try {
        client.signal(*r.pid, "SIGTERM");
      } catch (const std::exception&) {
        // Best effort: the command's timeout still ends it.
      }
    }
    return ToolResult::error("run_command: cancelled; the command was sent SIGTERM");
  }
  json res = {{"stdout", out.data},        {"stderr", err.data},
              {"exit_code", r.exit_code},  {"timed_out", r.timed_out},
              {"duration_ms", r.duration_ms}, {"stdout_truncated", out.truncated},
              {"stderr_truncated", err.truncated}};
  std::string text = fmt::format("exit code {}{}\n", r.exit_code,
                                 r.timed_out ? fmt::format(" (timed out after {}s and killed: raise timeout_seconds "
                                                           "or run it in the background)",
                                                           *req.timeout_seconds)
                                             : "");
  text += "--- stdout" + std::string(out.truncated ? " (last 64 KiB)" : "") + " ---\n" + out.data;
  if (!out.data.empty() && out.data.back() != '\n') text += "\n";
  text += "--- stderr" + std::string(err.truncated ? " (last 64 KiB)" : "") + " ---\n" + err.data;
  return {res, text};
}

ToolResult SandboxTools::write(const json& a) {
  core::FileWriteRequest req;
  req.path = a["path"].get<std::string>();
  req.content = a["content"].get<std::string>();
  req.encoding = a.value("encoding", "utf-8") == "base64" ? "base64" : "";
  if (a.contains("mode")) {
    const auto m = a["mode"].get<std::string>();
    if (m.empty() || m.size() > 4 || m.find_first_not_of("01234567") != std::string::npos)
      return ToolResult::error(fmt::format("write_file: mode: \"{}\" is not octal permission bits; use e.g. 0644 or "
                                           "0755",
                                           m));
    req.mode = static_cast<unsigned>(std::stoul(m, nullptr, 8));
  }
  if (req.encoding == "base64") core::base64_decode(req.content, "write_file: content (encoding base64)");
  auto t = target(a);
  auto r = sidecar_client(ctx_, t).write_file(req);
  return {{{"path", r.path}, {"bytes", r.bytes}}, fmt::format("wrote {} ({} bytes)", r.path, r.bytes)};
}

ToolResult SandboxTools::read(const json& a) {
  const auto path = a["path"].get<std::string>();
  auto t = target(a);
  std::string bytes;
  try {
    bytes = read_remote_file(ctx_, t, path);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::not_found) throw;
    return ToolResult::error(std::string(e.what()) + " (list_files shows what is there)");
  }
  const std::size_t size = bytes.size();
  const bool truncated = size > kReadCap;
  if (truncated) bytes.resize(kReadCap);
  const bool text = a.value("encoding", "utf-8") != "base64" && valid_utf8(bytes);
  json res = {{"path", path},
              {"content", text ? bytes : core::base64_encode(bytes)},
              {"encoding", text ? "utf-8" : "base64"},
              {"bytes", size},
              {"truncated", truncated}};
  std::string note = truncated ? fmt::format("(first {} of {} bytes)\n", kReadCap, size) : "";
  if (!text) note += fmt::format("({} bytes, base64)\n", size);
  return {res, note + res["content"].get<std::string>()};
}

ToolResult SandboxTools::list(const json& a) {
  const auto path = a.value("path", std::string("."));
  auto t = target(a);
  auto r = exec_collect(ctx_, t,
                        {"/bin/sh", "-c", kListScript, "sh", path, a.value("recursive", false) ? "1" : "0",
                         std::to_string(kListCap + 1)});
  if (r.exit_code != 0)
    return ToolResult::error(fmt::format("list_files: {}", r.stderr_data.empty() ? "listing failed" : trim(r.stderr_data)));
  auto entries = parse_file_list(r.stdout_data);
  const bool truncated = entries.size() > static_cast<std::size_t>(kListCap);
  if (truncated) entries.erase(entries.begin() + kListCap, entries.end());
  const std::string dir = trim(r.stdout_data.substr(0, r.stdout_data.find('\n')));
  std::string text = fmt::format("{} ({} entries{})\n", dir, entries.size(), truncated ? ", truncated" : "");
  for (const auto& e : entries)
    text += fmt::format("{}{}{}\n", e["name"].get<std::string>(), e["type"] == "directory" ? "/" : "",
                        e.contains("size") ? fmt::format("  {} bytes", e["size"].get<std::uint64_t>()) : "");
  return {{{"path", dir}, {"entries", entries}, {"truncated", truncated}}, text};
}

ToolResult SandboxTools::release(const json& a) {
  const auto sb = pick(a);
  const std::string ns = ctx_.ns();
  if (!ctx_.api().remove(k8s::resources::sandboxes, ns, sb))
    return ToolResult::error(fmt::format("sandbox {} not found in namespace {} (already released?)", sb, ns));
  if (sb == current_) current_.clear();
  return {{{"sandbox", sb}, {"released", true}},
          fmt::format("sandbox {} released; its pod is deleted. Call sandbox_create for a new one.", sb)};
}

}  // namespace arl::kubectl
