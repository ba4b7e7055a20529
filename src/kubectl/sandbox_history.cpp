// `kubectl arl sandbox history`: the sandbox's trajectory as a table or as
// the executor's own JSON lines (which `sandbox replay` reads back).
#include <openssl/evp.h>

#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/error.h"
#include "k8s/pod_proxy_transport.h"
#include "kubectl/context.h"
#include "kubectl/output.h"
#include "kubectl/proxy.h"
#include "kubectl/sandbox_trajectory.h"

namespace arl::kubectl {

using nlohmann::json;

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1)
    throw Error(ErrorCode::internal, "SHA-256 is not available");
  std::string s;
  for (unsigned i = 0; i < n; ++i) s += fmt::format("{:02x}", md[i]);
  return s;
}

std::vector<std::string> fetch_trajectory(k8s::SidecarTransport& transport, std::uint64_t since) {
  std::vector<std::string> out;
  for (;;) {
    auto reply = transport.request("GET", fmt::format("/trajectory?since={}", since), nullptr,
                                   std::chrono::milliseconds(30000));
    if (reply.status == 404)
      throw Error(ErrorCode::not_found, fmt::format("{}: GET /trajectory: not found (the sandbox's executor predates "
                                                    "trajectories: recreate its pool's pods)", transport.name()));
    if (reply.status != 200)
      throw Error(ErrorCode::unavailable, fmt::format("{}: GET /trajectory: HTTP {}: {}", transport.name(), reply.status, reply.body));
    // Pages end at line boundaries; the last seq of a page is where the next starts.
    std::istringstream in(reply.body);
    size_t before = out.size();
    for (std::string l; std::getline(in, l);)
      if (!l.empty()) out.push_back(l);
    if (out.size() == before) return out;
    auto last = json::parse(out.back(), nullptr, false);
    if (last.is_discarded() || !last.contains("seq"))
      throw Error(ErrorCode::unavailable, fmt::format("{}: GET /trajectory: a line is not JSON with a seq", transport.name()));
    since = last["seq"].get<std::uint64_t>();
  }
}

std::vector<json> parse_trajectory(const std::string& text, const std::string& what) {
  std::vector<json> out;
  std::istringstream in(text);
  int n = 0;
  for (std::string l; std::getline(in, l);) {
    ++n;
    if (l.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto j = json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned() ||
        !j.contains("kind") || !j["kind"].is_string())
      throw Error(ErrorCode::invalid, fmt::format("{}: line {}: not a trajectory line (a JSON object with seq and kind, "
                                                  "as `kubectl arl sandbox history -o jsonl` prints)", what, n));
    out.push_back(std::move(j));
  }
  return out;
}

namespace {

std::string one_line(std::string s, size_t max) {
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string number(const json& v) { return v.is_number() ? fmt::format("{:.0f}", v.get<double>()) : "<none>"; }

}  // namespace

std::string step_summary(const json& l) {
  const std::string kind = l.value("kind", "");
  if (kind == "execute") {
    std::string cmd;
    for (const auto& a : l.value("command", json::array())) cmd += (cmd.empty() ? "" : " ") + a.get<std::string>();
    return one_line(cmd, 60);
  }
  if (kind == "file_write") return one_line(fmt::format("{} ({} bytes)", l.value("path", ""), l.value("bytes", 0)), 60);
  if (kind == "checkpoint") return l.value("name", "").empty() ? l.value("id", "") : l.value("name", "");
  if (kind == "restore") return l.value("checkpoint", "");
  if (kind == "signal") return fmt::format("{} pid {}", l.value("signal", ""), l.value("pid", 0));
  if (kind == "reset") return l.value("preserve_files", false) ? "processes (files kept)" : "processes and files";
  return one_line(l.value("message", ""), 60);
}

std::string history_table(const std::vector<json>& lines, bool no_headers) {
  std::vector<std::vector<std::string>> rows;
  if (!no_headers) rows.push_back({"SEQ", "TIME", "KIND", "EXIT", "WALL_MS", "CPU_MS", "SUMMARY"});
  for (const auto& l : lines) {
    std::string exit = "<none>";
    if (l.contains("error")) exit = "error";
    else if (l.contains("exit_code")) exit = std::to_string(l["exit_code"].get<int>()) + (l.value("timed_out", false) ? "(timeout)" : "");
    else if (l.contains("pid") && l.value("kind", "") == "execute") exit = "background";
    std::string wall = number(l.value("duration_ms", json()));
    std::string cpu = "<none>";
    if (l.contains("usage")) {
      const auto& u = l["usage"];
      wall = number(u.value("wall_ms", json()));
      cpu = number(json(u.value("cpu_user_ms", 0.0) + u.value("cpu_system_ms", 0.0)));
    }
    std::string summary = step_summary(l);
    rows.push_back({std::to_string(l.value("seq", 0)), l.value("time", ""), l.value("kind", ""), exit, wall, cpu,
                    summary.empty() ? "<none>" : summary});
  }
  return render_table(rows);
}

namespace {

struct HistoryArgs {
  std::string name;
  std::string output = "table";
  std::uint64_t since = 0;
  bool no_headers = false;
};

void run_history(PluginContext& ctx, const HistoryArgs& a) {
  auto target = resolve_sandbox(ctx, ctx.ns(), a.name);
  k8s::PodProxyTransport transport(ctx.rest(), target);
  auto raw = fetch_trajectory(transport, a.since);
  if (a.output == "jsonl") {
    for (const auto& l : raw) ctx.out() << l << "\n";
    return;
  }
  std::vector<json> lines;
  for (const auto& l : raw) lines.push_back(json::parse(l));
  if (lines.empty()) {
    ctx.err() << fmt::format("No operations recorded in sandbox {}{}.\n", a.name,
                             a.since ? fmt::format(" after seq {}", a.since) : "");
    return;
  }
  ctx.out() << history_table(lines, a.no_headers);
}

}  // namespace

void add_history_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx) {
  auto a = std::make_shared<HistoryArgs>();
  auto* history = add_command(
      sandbox, "history", "Show what a sandbox did: one line per execute, file write, checkpoint, restore, signal, reset",
      "  kubectl arl sandbox history my-sb\n"
      "  kubectl arl sandbox history my-sb --since 40\n"
      "  kubectl arl sandbox history my-sb -o jsonl > episode.jsonl   (replayable: sandbox replay)\n");
  history->add_option("name", a->name, "Sandbox name")->required();
  history->add_option("-o,--output", a->output, "Output format: table, or jsonl (the executor's lines, as recorded)")
      ->check(CLI::IsMember({"table", "jsonl"}));
  history->add_option("--since", a->since, "Only operations after this sequence number");
  history->add_flag("--no-headers", a->no_headers, "Table without its header line");
  history->callback([ctx, a] { run_history(*ctx, *a); });
}

}  // namespace arl::kubectl
