// `kubectl arl sandbox replay FILE --into SANDBOX`: re-runs a recorded
// trajectory and reports where the sandbox does something else.
//
// Replayed: executes (foreground compared by exit code, timeout and the
// SHA-256 of stdout and stderr; background ones started, their pids mapped
// for later signals), file writes (from the bytes inlined in the line:
// writes above the inline limit, or holding a value of the recorded
// sandbox's env, were not kept and are divergences), checkpoints (same name;
// ids mapped for restores), restores, signals, resets. A recorded refusal
// (an "error" line) must be refused again. Env values are never recorded:
// --env gives them back.
#include <algorithm>
#include <fstream>
#include <set>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/read_file.h"
#include "k8s/pod_proxy_transport.h"
#include "kubectl/common.h"
#include "kubectl/proxy.h"
#include "kubectl/sandbox_trajectory.h"

namespace arl::kubectl {

using nlohmann::json;

std::vector<std::string> compare_execute(const json& recorded, const core::ExecuteResponse& got) {
  std::vector<std::string> diffs;
  const int want = recorded.value("exit_code", 0);
  if (want != got.exit_code) diffs.push_back(fmt::format("exit_code: expected {}, got {}", want, got.exit_code));
  if (recorded.value("timed_out", false) != got.timed_out)
    diffs.push_back(fmt::format("timed_out: expected {}, got {}", recorded.value("timed_out", false), got.timed_out));
  for (const auto& [stream, data] : {std::pair<std::string, const std::string&>{"stdout", got.stdout_data},
                                     std::pair<std::string, const std::string&>{"stderr", got.stderr_data}}) {
    // The recording sidecar kept only the tail of such an output: nothing to compare.
    if (recorded.value(stream + "_incomplete", false)) continue;
    const std::string want_sha = recorded.value(stream + "_sha256", "");
    const std::string got_sha = sha256_hex(data);
    if (want_sha != got_sha)
      diffs.push_back(fmt::format("{}_sha256: expected {} ({} bytes), got {} ({} bytes)", stream, want_sha,
                                  recorded.value(stream + "_bytes", 0), got_sha, data.size()));
  }
  return diffs;
}

namespace {

class Replayer {
 public:
  Replayer(k8s::SidecarClient& client, k8s::SidecarTransport& transport, const ReplayOptions& options, std::ostream& notes)
      : client_(client), transport_(transport), opts_(options), notes_(notes) {}

  /// The differences of one step (empty: it agreed, or it was skipped with a note).
  std::vector<std::string> step(const json& l) {
    const std::string kind = l.value("kind", "");
    const bool want_error = l.contains("error");
    try {
      std::vector<std::string> diffs;
      if (kind == "execute") diffs = execute(l);
      else if (kind == "file_write") diffs = file_write(l);
      else if (kind == "checkpoint") checkpoint(l);
      else if (kind == "restore") restore(l);
      else if (kind == "signal") signal(l);
      else if (kind == "reset") client_.reset({l.value("preserve_files", false)});
      else if (kind == "trajectory_full") {
        notes_ << fmt::format("step {}: the recording stopped here at its size cap; later operations were not recorded\n",
                              l.value("seq", 0));
        return {};
      } else {
        notes_ << fmt::format("step {}: kind \"{}\" is not replayed (skipped)\n", l.value("seq", 0), kind);
        return {};
      }
      if (want_error && diffs.empty())
        return {fmt::format("error: expected \"{}\", got none (the {} succeeded)", l.value("error", ""), kind)};
      return diffs;
    } catch (const Unreplayable& e) {
      return {e.what()};
    } catch (const Error& e) {
      if (want_error) return {};
      if (e.code() == ErrorCode::unavailable || e.code() == ErrorCode::timeout || e.code() == ErrorCode::unauthorized)
        throw;  // the sandbox itself is unreachable: no later step can be compared
      return {fmt::format("error: expected none, got \"{}\"", e.what())};
    }
  }

 private:
  struct Unreplayable : std::runtime_error {
    using std::runtime_error::runtime_error;
  };

  std::map<std::string, std::string> env_for(const json& l) {
    std::map<std::string, std::string> env;
    for (const auto& n : l.value("env_names", json::array())) {
      const std::string name = n.get<std::string>();
      auto it = opts_.env.find(name);
      if (it != opts_.env.end()) env[name] = it->second;
      else if (warned_env_.insert(name).second)
        notes_ << fmt::format("step {}: the request set env {}, whose value is not recorded: give --env {}=VALUE\n",
                              l.value("seq", 0), name, name);
    }
    return env;
  }

  std::vector<std::string> execute(const json& l) {
    core::ExecuteRequest req;
    req.command = l.value("command", std::vector<std::string>{});
    req.working_dir = l.value("working_dir", "");
    req.env = env_for(l);
    req.timeout_seconds = l.value("timeout_seconds", core::kSidecarDefaultTimeoutSeconds);
    req.background = l.value("background", false);
    if (l.contains("stdin_omitted"))
      throw Unreplayable(fmt::format("stdin: not recorded ({}): cannot replay this execute", l.value("stdin_omitted", "")));
    if (l.contains("stdin_base64")) req.stdin_data = core::base64_decode(l.value("stdin_base64", ""), "stdin_base64");
    if (req.background) {
      auto r = client_.execute(req);
      if (l.contains("pid") && r.pid) pids_[l["pid"].get<int>()] = *r.pid;
      return {};
    }
    // Streamed: the whole output, not the buffered reply's capped one, is hashed.
    auto r = client_.execute_stream(req);
    if (l.contains("error")) return {fmt::format("error: expected \"{}\", got exit_code {}", l.value("error", ""), r.exit_code)};
    return compare_execute(l, r);
  }

  std::vector<std::string> file_write(const json& l) {
    if (!l.contains("content_base64"))
      throw Unreplayable(fmt::format("content: not recorded ({}): cannot replay this write",
                                     l.value("content_omitted", "no content_base64 in the line")));
    core::FileWriteRequest req;
    req.path = l.value("path", "");
    req.content = l.value("content_base64", "");
    req.encoding = "base64";
    if (l.contains("mode")) req.mode = static_cast<unsigned>(std::stoul(l.value("mode", "0644"), nullptr, 8));
    const std::string bytes = core::base64_decode(req.content, "content_base64");
    if (l.contains("sha256") && sha256_hex(bytes) != l.value("sha256", ""))
      notes_ << fmt::format("step {}: {}: the content differs from its recorded sha256 (an edited trajectory): "
                            "writing the content given\n", l.value("seq", 0), req.path);
    client_.write_file(req);
    return {};
  }

  json post(const std::string& endpoint, const json& body) {
    const std::string text = body.dump();
    auto reply = transport_.request("POST", endpoint, &text, std::chrono::milliseconds(60000));
    auto j = json::parse(reply.body, nullptr, false);
    if (reply.status != 200) {
      std::string msg = j.is_object() ? j.value("error", reply.body) : reply.body;
      throw Error(reply.status >= 500 && reply.status != 507 ? ErrorCode::unavailable : ErrorCode::invalid,
                  fmt::format("POST {}: HTTP {}: {}", endpoint, reply.status, msg));
    }
    return j;
  }

  void checkpoint(const json& l) {
    json body = json::object();
    if (!l.value("name", "").empty()) body["name"] = l.value("name", "");
    auto info = post("/checkpoints", body);
    if (l.contains("id")) ids_[l.value("id", "")] = info.value("id", "");
  }

  void restore(const json& l) {
    std::string ref = l.value("checkpoint", "");
    if (auto it = ids_.find(ref); it != ids_.end()) ref = it->second;  // an id of the recorded sandbox
    post("/checkpoints/" + ref + "/restore", {{"kill_processes", l.value("kill_processes", false)}});
  }

  void signal(const json& l) {
    auto it = pids_.find(l.value("pid", 0));
    if (it == pids_.end()) {
      notes_ << fmt::format("step {}: pid {} was not started by a replayed background execute: signal skipped\n",
                            l.value("seq", 0), l.value("pid", 0));
      return;
    }
    client_.signal(it->second, l.value("signal", "SIGTERM"));
  }

  k8s::SidecarClient& client_;
  k8s::SidecarTransport& transport_;
  const ReplayOptions& opts_;
  std::ostream& notes_;
  std::map<int, int> pids_;                 // recorded pid -> replayed pid
  std::map<std::string, std::string> ids_;  // recorded checkpoint id -> replayed id
  std::set<std::string> warned_env_;
};

}  // namespace

std::vector<Divergence> replay(const std::vector<json>& lines, k8s::SidecarClient& client, k8s::SidecarTransport& transport,
                               const ReplayOptions& options, std::ostream& notes) {
  std::vector<json> sorted = lines;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const json& a, const json& b) { return a.value("seq", 0ull) < b.value("seq", 0ull); });
  Replayer r(client, transport, options, notes);
  std::vector<Divergence> out;
  for (const auto& l : sorted) {
    auto diffs = r.step(l);
    if (diffs.empty()) continue;
    out.push_back({l.value("seq", 0ull), l.value("kind", ""), step_summary(l), std::move(diffs)});
    if (options.stop_at_first) break;
  }
  return out;
}

namespace {

struct ReplayArgs {
  std::string file;
  std::string into;
  bool stop_at_first = false;
  std::vector<std::string> env;
};

void run_replay(PluginContext& ctx, const ReplayArgs& a) {
  ReplayOptions opts;
  opts.stop_at_first = a.stop_at_first;
  opts.env = parse_key_values(a.env, "--env");
  const std::string what = a.file == "-" ? "stdin" : a.file;
  auto lines = parse_trajectory(core::read_file_or_stdin(a.file, "FILE", std::cin), what);
  auto target = resolve_sandbox(ctx, ctx.ns(), a.into);
  auto client = sidecar_client(ctx, target);
  k8s::PodProxyTransport transport(ctx.rest(), target);
  auto divergences = replay(lines, client, transport, opts, ctx.err());
  if (divergences.empty()) {
    ctx.out() << fmt::format("no divergence ({} steps)\n", lines.size());
    return;
  }
  for (const auto& d : divergences) {
    ctx.out() << fmt::format("divergence at step {} ({}: {}):\n", d.seq, d.kind, d.summary);
    for (const auto& x : d.differences) ctx.out() << "  " << x << "\n";
  }
  ctx.out() << fmt::format("{} divergent step{} of {}; the first at step {}\n", divergences.size(),
                           divergences.size() == 1 ? "" : "s", lines.size(), divergences.front().seq);
  throw ExitStatus{1};
}

}  // namespace

void add_replay_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx) {
  auto a = std::make_shared<ReplayArgs>();
  auto* cmd = add_command(
      sandbox, "replay",
      "Re-run a recorded trajectory in a sandbox and report where it diverges (exit code, output SHA-256); exit 1 if it does",
      "  kubectl arl sandbox history ep-1 -o jsonl > ep-1.jsonl\n"
      "  kubectl arl sandbox replay ep-1.jsonl --into fresh-sb\n"
      "  kubectl arl sandbox replay ep-1.jsonl --into fresh-sb --stop-at-first --env API_KEY=$KEY\n\n"
      "File writes are replayed from the bytes the trajectory keeps (up to 64 KiB per write, and none\n"
      "holding a value of the sandbox's env): a larger write is reported as a divergence. Env values are\n"
      "never recorded: give the ones the requests set with --env NAME=VALUE.\n");
  cmd->add_option("file", a->file, "The trajectory (JSON lines, as `sandbox history -o jsonl` prints); - for stdin")
      ->required();
  cmd->add_option("--into", a->into, "The sandbox to replay into (a fresh one from the same pool)")->required();
  cmd->add_flag("--stop-at-first", a->stop_at_first, "Stop at the first divergent step");
  cmd->add_option("--env", a->env, "Value of an env name the recorded requests set (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  cmd->callback([ctx, a] { run_replay(*ctx, *a); });
}

}  // namespace arl::kubectl
