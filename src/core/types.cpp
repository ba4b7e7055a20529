#include "core/types.h"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "core/error.h"
#include "core/json_reader.h"
#include "core/names.h"

namespace arl::core {
namespace {

void put_if(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
template <class T>
void put_if(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

json conditions_json(const std::vector<Condition>& cs) {
  json a = json::array();
  for (const auto& c : cs) a.push_back(to_json(c));
  return a;
}

std::vector<Condition> conditions_from(const JsonReader& r) {
  std::vector<Condition> out;
  for (const auto& c : r.items("conditions")) {
    out.push_back({c.str("type"), c.str("status"), c.str("reason"), c.str("message"), c.str("lastTransitionTime"),
                   c.integer("observedGeneration")});
  }
  return out;
}

json with_meta(std::string_view kind, const ObjectMeta& m) {
  return json{{"apiVersion", kApiVersion}, {"kind", kind}, {"metadata", to_json(m)}};
}

}  // namespace

json to_json(const ObjectMeta& m) {
  json j = m.extra.is_object() ? m.extra : json::object();
  put_if(j, "name", m.name);
  put_if(j, "generateName", m.generate_name);
  put_if(j, "namespace", m.namespace_);
  put_if(j, "uid", m.uid);
  put_if(j, "resourceVersion", m.resource_version);
  if (m.generation) j["generation"] = m.generation;
  put_if(j, "creationTimestamp", m.creation_timestamp);
  put_if(j, "deletionTimestamp", m.deletion_timestamp);
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  if (m.owner_references.is_array() && !m.owner_references.empty()) j["ownerReferences"] = m.owner_references;
  if (!m.finalizers.empty()) j["finalizers"] = m.finalizers;
  return j;
}

ObjectMeta meta_from_json(const json& j) {
  ObjectMeta m;
  if (!j.is_object() || !j.contains("metadata")) return m;
  JsonReader r = JsonReader(j, "").child("metadata");
  m.name = r.str("name");
  m.generate_name = r.str("generateName");
  m.namespace_ = r.str("namespace");
  m.uid = r.str("uid");
  m.resource_version = r.str("resourceVersion");
  m.generation = r.integer("generation");
  m.creation_timestamp = r.str("creationTimestamp");
  m.deletion_timestamp = r.str("deletionTimestamp");
  m.labels = r.str_map("labels");
  m.annotations = r.str_map("annotations");
  if (r.has("ownerReferences")) m.owner_references = r.raw().at("ownerReferences");
  m.finalizers = r.str_list("finalizers");
  m.extra = r.raw();
  for (const char* known : {"name", "generateName", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                            "deletionTimestamp", "labels", "annotations", "ownerReferences", "finalizers"})
    m.extra.erase(known);
  return m;
}

json to_json(const Condition& c) {
  json j{{"type", c.type}, {"status", c.status}};
  put_if(j, "reason", c.reason);
  put_if(j, "message", c.message);
  put_if(j, "lastTransitionTime", c.last_transition_time);
  if (c.observed_generation) j["observedGeneration"] = c.observed_generation;
  return j;
}

// ---- WarmPool
json to_json(const WarmPoolStatus& s) {
  json j{{"readyReplicas", s.ready_replicas}, {"allocatedReplicas", s.allocated_replicas}, {"replicas", s.replicas}};
  put_if(j, "phase", s.phase);
  if (!s.conditions.empty()) j["conditions"] = conditions_json(s.conditions);
  if (s.observed_generation) j["observedGeneration"] = s.observed_generation;
  return j;
}

json to_json(const WarmPool& p) {
  json j = with_meta("WarmPool", p.metadata);
  json spec = json::object();
  put_if(spec, "replicas", p.spec.replicas);
  if (!p.spec.template_.is_null()) spec["template"] = p.spec.template_;
  j["spec"] = spec;
  j["status"] = to_json(p.status);
  return j;
}

WarmPool warm_pool_from_json(const json& j) {
  WarmPool p;
  p.metadata = meta_from_json(j);
  JsonReader root(j, "");
  JsonReader spec = root.child("spec");
  p.spec.replicas = spec.int_opt("replicas");
  if (spec.has("template")) {
    if (!spec.raw().at("template").is_object())
      throw Error(ErrorCode::invalid, "spec.template: must be an object (a pod template)");
    p.spec.template_ = spec.raw().at("template");
  }
  JsonReader st = root.child("status");
  p.status.ready_replicas = st.integer("readyReplicas");
  p.status.allocated_replicas = st.integer("allocatedReplicas");
  p.status.replicas = st.integer("replicas");
  p.status.phase = st.str("phase");
  p.status.conditions = conditions_from(st);
  p.status.observed_generation = st.integer("observedGeneration");
  return p;
}

// ---- Sandbox
json to_json(const SandboxStatus& s) {
  json j = json::object();
  put_if(j, "phase", s.phase);
  put_if(j, "podName", s.pod_name);
  put_if(j, "podIP", s.pod_ip);
  put_if(j, "workDir", s.work_dir);
  put_if(j, "allocatedAt", s.allocated_at);
  put_if(j, "lastActivityAt", s.last_activity_at);
  if (!s.conditions.empty()) j["conditions"] = conditions_json(s.conditions);
  if (s.observed_generation) j["observedGeneration"] = s.observed_generation;
  return j;
}

json to_json(const Sandbox& s) {
  json j = with_meta("Sandbox", s.metadata);
  json spec{{"poolRef", s.spec.pool_ref}, {"keepAlive", s.spec.keep_alive}};
  put_if(spec, "ttlSecondsAfterFinished", s.spec.ttl_seconds_after_finished);
  j["spec"] = spec;
  j["status"] = to_json(s.status);
  return j;
}

Sandbox sandbox_from_json(const json& j) {
  Sandbox s;
  s.metadata = meta_from_json(j);
  JsonReader root(j, "");
  JsonReader spec = root.child("spec");
  s.spec.pool_ref = spec.str("poolRef");
  s.spec.keep_alive = spec.boolean("keepAlive");
  s.spec.ttl_seconds_after_finished = spec.int_opt("ttlSecondsAfterFinished");
  JsonReader st = root.child("status");
  s.status.phase = st.str("phase");
  s.status.pod_name = st.str("podName");
  s.status.pod_ip = st.str("podIP");
  s.status.work_dir = st.str("workDir");
  s.status.allocated_at = st.str("allocatedAt");
  s.status.last_activity_at = st.str("lastActivityAt");
  s.status.conditions = conditions_from(st);
  s.status.observed_generation = st.integer("observedGeneration");
  return s;
}

// ---- Task
json to_json(const Step& s) {
  json j{{"name", s.name}, {"type", s.type}};
  if (!s.command.empty()) j["command"] = s.command;
  put_if(j, "workDir", s.work_dir);
  if (!s.env.empty()) j["env"] = s.env;
  if (s.background) j["background"] = true;
  put_if(j, "path", s.path);
  if (s.type == kStepFilePatch) j["content"] = s.content;
  return j;
}

json to_json(const TaskStatus& s) {
  json j = json::object();
  put_if(j, "state", s.state);
  j["stdout"] = s.stdout_;
  j["stderr"] = s.stderr_;
  if (s.stdout_truncated) j["stdoutTruncated"] = true;
  if (s.stderr_truncated) j["stderrTruncated"] = true;
  put_if(j, "exitCode", s.exit_code);
  put_if(j, "startedAt", s.started_at);
  put_if(j, "completedAt", s.completed_at);
  put_if(j, "duration", s.duration);
  j["attempts"] = s.attempts;
  put_if(j, "message", s.message);
  put_if(j, "reason", s.reason);
  json steps = json::array();
  for (const auto& st : s.steps) {
    json sj{{"name", st.name}, {"state", st.state}};
    put_if(sj, "exitCode", st.exit_code);
    if (!st.stdout_.empty()) sj["stdout"] = st.stdout_;
    if (!st.stderr_.empty()) sj["stderr"] = st.stderr_;
    if (st.truncated) sj["truncated"] = true;
    put_if(sj, "pid", st.pid);
    put_if(sj, "startedAt", st.started_at);
    put_if(sj, "completedAt", st.completed_at);
    if (st.usage)
      sj["usage"] = json{{"wallMs", st.usage->wall_ms}, {"cpuUserMs", st.usage->cpu_user_ms},
                         {"cpuSystemMs", st.usage->cpu_system_ms}, {"maxRssKb", st.usage->max_rss_kb}};
    steps.push_back(sj);
  }
  if (!steps.empty()) j["steps"] = steps;
  if (!s.conditions.empty()) j["conditions"] = conditions_json(s.conditions);
  if (s.observed_generation) j["observedGeneration"] = s.observed_generation;
  return j;
}

json to_json(const Task& t) {
  json j = with_meta("Task", t.metadata);
  json steps = json::array();
  for (const auto& s : t.spec.steps) steps.push_back(to_json(s));
  json spec{{"sandboxRef", t.spec.sandbox_ref}, {"timeout", t.spec.timeout}, {"retries", t.spec.retries}, {"steps", steps}};
  put_if(spec, "ttlSecondsAfterFinished", t.spec.ttl_seconds_after_finished);
  j["spec"] = spec;
  j["status"] = to_json(t.status);
  return j;
}

namespace {
std::optional<Usage> step_usage_from(const JsonReader& step) {
  if (!step.has("usage")) return std::nullopt;
  const json& u = step.raw()["usage"];
  if (!u.is_object()) throw Error(ErrorCode::invalid, step.child_path("usage") + ": must be an object");
  auto num = [&](const char* key) {
    auto it = u.find(key);
    return it != u.end() && it->is_number() ? it->get<double>() : 0.0;
  };
  return Usage{num("wallMs"), num("cpuUserMs"), num("cpuSystemMs"), static_cast<std::uint64_t>(num("maxRssKb"))};
}
}  // namespace

Task task_from_json(const json& j) {
  Task t;
  t.metadata = meta_from_json(j);
  JsonReader root(j, "");
  JsonReader spec = root.child("spec");
  t.spec.sandbox_ref = spec.str("sandboxRef");
  t.spec.timeout = spec.str("timeout", "30s");
  t.spec.retries = spec.integer("retries");
  t.spec.ttl_seconds_after_finished = spec.int_opt("ttlSecondsAfterFinished");
  for (const auto& s : spec.items("steps")) {
    Step step;
    step.name = s.str("name");
    step.type = s.str("type");
    step.command = s.str_list("command");
    step.work_dir = s.str("workDir");
    step.env = s.str_map("env");
    step.background = s.boolean("background");
    step.path = s.str("path");
    step.content = s.str("content");
    t.spec.steps.push_back(std::move(step));
  }
  JsonReader st = root.child("status");
  t.status.state = st.str("state");
  t.status.stdout_ = st.str("stdout");
  t.status.stderr_ = st.str("stderr");
  t.status.stdout_truncated = st.boolean("stdoutTruncated");
  t.status.stderr_truncated = st.boolean("stderrTruncated");
  t.status.exit_code = st.int_opt("exitCode");
  t.status.started_at = st.str("startedAt");
  t.status.completed_at = st.str("completedAt");
  t.status.duration = st.str("duration");
  t.status.attempts = st.integer("attempts");
  t.status.message = st.str("message");
  t.status.reason = st.str("reason");
  for (const auto& s : st.items("steps")) {
    t.status.steps.push_back({s.str("name"), s.str("state"), s.int_opt("exitCode"), s.str("stdout"), s.str("stderr"),
                              s.boolean("truncated"), s.int_opt("pid"), s.str("startedAt"), s.str("completedAt"),
                              step_usage_from(s)});
  }
  t.status.conditions = conditions_from(st);
  t.status.observed_generation = st.integer("observedGeneration");
  return t;
}

// A step's empty workDir is left empty, not filled with /workspace: the
// sidecar reads "" as the sandbox's own working dir (spec.workingDir, handed
// over at the bind), else its workdir, exactly as for /execute. Filling it
// here ran every step of such a sandbox in /workspace.
void apply_defaults(Task& t) {
  if (t.spec.timeout.empty()) t.spec.timeout = "30s";
}

std::string now_rfc3339() { return format_rfc3339(std::chrono::system_clock::now()); }

std::string format_rfc3339(TimePoint now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string format_rfc3339_fraction(TimePoint t, int digits) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  if (secs > t) secs -= std::chrono::seconds(1);  // before 1970 the cast rounds up
  std::string out = format_rfc3339(secs);
  out.pop_back();  // the 'Z'
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t - secs).count();
  std::string frac = fmt::format("{:09d}", ns);
  out += '.';
  out += frac.substr(0, static_cast<size_t>(std::clamp(digits, 1, 9)));
  out += 'Z';
  return out;
}

std::optional<int64_t> parse_rfc3339(std::string_view ts) {
  std::tm tm{};
  std::string s(ts);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

bool set_condition(std::vector<Condition>& conditions, Condition c, TimePoint now) {
  for (auto& existing : conditions) {
    if (existing.type != c.type) continue;
    if (existing.status == c.status && existing.reason == c.reason && existing.message == c.message &&
        existing.observed_generation == c.observed_generation)
      return false;
    if (existing.status == c.status) c.last_transition_time = existing.last_transition_time;
    if (c.last_transition_time.empty()) c.last_transition_time = format_rfc3339(now);
    existing = std::move(c);
    return true;
  }
  if (c.last_transition_time.empty()) c.last_transition_time = format_rfc3339(now);
  conditions.push_back(std::move(c));
  return true;
}

}  // namespace arl::core
