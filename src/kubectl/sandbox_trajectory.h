#pragma once
// `kubectl arl sandbox history` and `sandbox replay`: the sandbox's
// trajectory (docs/design.md "Trajectory") read page by page from its
// executor, shown as a table, and re-run into another sandbox.
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "k8s/sidecar_client.h"
#include "kubectl/context.h"
#include "k8s/sidecar_transport.h"

namespace arl::kubectl {

/// Every line with seq > since, as the executor wrote them (GET /trajectory
/// repeated until a page is empty).
std::vector<std::string> fetch_trajectory(k8s::SidecarTransport& transport, std::uint64_t since);

/// The history table: SEQ TIME KIND EXIT WALL_MS CPU_MS SUMMARY (SUMMARY
/// last: it is the one column with spaces).
std::string history_table(const std::vector<nlohmann::json>& lines, bool no_headers);
/// What a line did, in a few words: the command, the path written, ...
std::string step_summary(const nlohmann::json& line);

/// A trajectory file's lines; Error{invalid} naming `what` and the line
/// number for one that is not a JSON object with seq and kind.
std::vector<nlohmann::json> parse_trajectory(const std::string& text, const std::string& what);

/// SHA-256 in lower-case hex (output hashes compared by replay).
std::string sha256_hex(std::string_view data);

/// Where replay found the sandbox doing something else than the record.
struct Divergence {
  std::uint64_t seq = 0;
  std::string kind;
  std::string summary;
  std::vector<std::string> differences;  // "exit_code: expected 0, got 1"
};

/// An execute's recorded outcome against the replayed one (pure): exit
/// code, timeout and the SHA-256 of each stream. Empty when they agree.
std::vector<std::string> compare_execute(const nlohmann::json& recorded, const core::ExecuteResponse& got);

struct ReplayOptions {
  bool stop_at_first = false;
  /// Values for env names the recorded requests set (the trajectory keeps names only).
  std::map<std::string, std::string> env;
};

/// Re-runs executes, file writes, checkpoints, restores, signals and resets
/// in seq order through `client` (and `transport` for checkpoints); `notes`
/// gets what was skipped and why. Returns the divergences, in order.
std::vector<Divergence> replay(const std::vector<nlohmann::json>& lines, k8s::SidecarClient& client,
                               k8s::SidecarTransport& transport, const ReplayOptions& options, std::ostream& notes);

/// `sandbox history` and `sandbox replay`.
void add_history_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx);
void add_replay_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx);

}  // namespace arl::kubectl
