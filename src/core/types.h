#pragma once
// Typed views of ARL's resources (SPEC.md), with JSON round trip. Fields that
// Kubernetes would keep but ARL does not interpret (the pod template, unknown
// metadata) are carried as JSON so nothing is lost on a read-modify-write.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::core {

using json = nlohmann::json;

struct ObjectMeta {
  std::string name;
  std::string generate_name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  std::string creation_timestamp;
  std::string deletion_timestamp;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  json owner_references = json::array();
  std::vector<std::string> finalizers;
  json extra = json::object();  // managedFields and anything else, kept verbatim
};

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
  std::string last_transition_time;
  int64_t observed_generation = 0;
  bool operator==(const Condition&) const = default;
};

// ---- WarmPool
struct WarmPoolSpec {
  std::optional<int64_t> replicas;  // required; optional here so validation can report it missing
  json template_ = json();          // PodTemplateSpec, kept as JSON
};
struct WarmPoolStatus {
  int64_t ready_replicas = 0;
  int64_t allocated_replicas = 0;
  int64_t replicas = 0;
  std::string phase;  // Pending | Ready | Scaling
  std::vector<Condition> conditions;
  int64_t observed_generation = 0;
  bool operator==(const WarmPoolStatus&) const = default;
};
struct WarmPool {
  ObjectMeta metadata;
  WarmPoolSpec spec;
  WarmPoolStatus status;
};

// ---- Sandbox
struct SandboxSpec {
  std::string pool_ref;
  bool keep_alive = false;
  std::optional<int64_t> ttl_seconds_after_finished;
};
struct SandboxStatus {
  std::string phase;  // Pending | Ready | Bound | Released | Failed
  std::string pod_name;
  std::string pod_ip;
  std::string work_dir;
  std::string allocated_at;
  std::string last_activity_at;
  std::vector<Condition> conditions;
  int64_t observed_generation = 0;
  bool operator==(const SandboxStatus&) const = default;
};
struct Sandbox {
  ObjectMeta metadata;
  SandboxSpec spec;
  SandboxStatus status;
};

// ---- Task
inline constexpr std::string_view kStepCommand = "Command";
inline constexpr std::string_view kStepFilePatch = "FilePatch";

struct Step {
  std::string name;
  std::string type;  // Command | FilePatch
  // Command
  std::vector<std::string> command;
  std::string work_dir;  // "": the sandbox's working dir, else /workspace
  std::map<std::string, std::string> env;
  bool background = false;
  // FilePatch
  std::string path;
  std::string content;
  bool operator==(const Step&) const = default;
};
struct TaskSpec {
  std::string sandbox_ref;
  std::string timeout = "30s";
  int64_t retries = 0;
  std::optional<int64_t> ttl_seconds_after_finished;
  std::vector<Step> steps;
};
/// What a command cost, from the kernel's accounting when it was reaped
/// (wait4): the command's process plus every descendant it waited for.
/// Background children it left running, and orphans, are not counted.
/// The sidecar's /execute answers with it (snake_case JSON); a Task step's
/// status carries it (camelCase, step_usage_json).
struct Usage {
  double wall_ms = 0;
  double cpu_user_ms = 0;
  double cpu_system_ms = 0;
  std::uint64_t max_rss_kb = 0;  // the largest of those processes, not their sum
  bool operator==(const Usage&) const = default;
};

struct StepStatus {
  std::string name;
  std::string state;  // Pending | Running | Succeeded | Failed | Skipped
  std::optional<int64_t> exit_code;
  std::string stdout_;
  std::string stderr_;
  bool truncated = false;
  std::optional<int64_t> pid;
  std::string started_at;
  std::string completed_at;
  std::optional<Usage> usage;  // Command steps that ran to the end
  bool operator==(const StepStatus&) const = default;
};
struct TaskStatus {
  std::string state;  // Pending | Running | Succeeded | Failed
  std::string stdout_;
  std::string stderr_;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::optional<int64_t> exit_code;
  std::string started_at;
  std::string completed_at;
  std::string duration;
  int64_t attempts = 0;
  std::string message;
  std::string reason;
  std::vector<StepStatus> steps;
  std::vector<Condition> conditions;
  int64_t observed_generation = 0;
  bool operator==(const TaskStatus&) const = default;
};
struct Task {
  ObjectMeta metadata;
  TaskSpec spec;
  TaskStatus status;
};

// JSON (the API server's form). from_json throws Error{invalid} naming the
// field whose type is wrong, e.g. `spec.replicas: must be an integer`.
json to_json(const ObjectMeta& m);
json to_json(const Condition& c);
json to_json(const WarmPool& p);
json to_json(const Sandbox& s);
json to_json(const Task& t);
json to_json(const Step& s);
json to_json(const WarmPoolStatus& s);
json to_json(const SandboxStatus& s);
json to_json(const TaskStatus& s);

ObjectMeta meta_from_json(const json& j);
WarmPool warm_pool_from_json(const json& j);
Sandbox sandbox_from_json(const json& j);
Task task_from_json(const json& j);

/// Fills defaults as the CRD's schema does: task timeout 30s, retries 0,
/// sandbox keepAlive false. A step's workDir stays "" when unset: the
/// sandbox's working dir (spec.workingDir), else /workspace, decided by the
/// sidecar.
void apply_defaults(Task& t);

/// Wall-clock time; decisions take it as a parameter so tests pick it.
using TimePoint = std::chrono::system_clock::time_point;

/// RFC 3339 UTC timestamp, seconds precision as the API server stores it.
std::string format_rfc3339(TimePoint t);
std::string now_rfc3339();
/// RFC 3339 UTC with `digits` (1..9) fractional digits: 6 for the API's
/// MicroTime fields (Lease renewTime, Pod condition times), 3 for log lines.
std::string format_rfc3339_fraction(TimePoint t, int digits);
/// Parses RFC 3339 (as written by the API server); nullopt when malformed.
std::optional<int64_t> parse_rfc3339(std::string_view ts);

/// Sets or replaces the condition of the same type. lastTransitionTime is
/// `now` when the status changes (or c carries its own), kept otherwise. The
/// caller fills c.observed_generation with metadata.generation. Returns true
/// when anything changed.
bool set_condition(std::vector<Condition>& conditions, Condition c, TimePoint now);

}  // namespace arl::core
