#include "localnode/pod_status.h"

#include <ctime>

#include <fmt/format.h>

#include "core/names.h"
#include "core/types.h"

namespace arl::localnode {

namespace {

json condition(const char* type, bool status, const std::string& now, const char* reason = nullptr) {
  json c = {{"type", type}, {"status", status ? "True" : "False"}, {"lastTransitionTime", now}};
  if (reason) c["reason"] = reason;
  return c;
}

}  // namespace

std::string rfc3339_micro(std::chrono::system_clock::time_point t) { return core::format_rfc3339_fraction(t, 6); }

std::string phase_of(const RunState& s) {
  if (!s.exit) return "Running";
  return s.exit->exit_code == 0 ? "Succeeded" : "Failed";
}

json status_patch(const RunState& s, const std::string& now) {
  const bool running = !s.exit;
  const bool ready = running && s.ready;
  json cs = {{"name", s.container},
             {"image", s.image},
             {"imageID", ""},
             {"containerID", fmt::format("localnode://{}", s.pid)},
             {"restartCount", s.restart_count},
             {"started", running},
             {"ready", ready}};
  if (running) {
    cs["state"] = {{"running", {{"startedAt", s.start_time}}}};
  } else {
    json term = {{"exitCode", s.exit->exit_code},
                 {"reason", !s.exit->reason.empty() ? s.exit->reason : s.exit->exit_code == 0 ? "Completed" : "Error"},
                 {"startedAt", s.start_time},
                 {"finishedAt", s.exit->finished_at},
                 {"containerID", cs["containerID"]}};
    if (s.exit->signal) term["signal"] = s.exit->signal;
    cs["state"] = {{"terminated", term}};
  }
  const char* not_ready_reason = running ? "ContainersNotReady" : "PodCompleted";
  json status = {
      {"phase", phase_of(s)},
      {"hostIP", s.host_ip},
      // Replace, not merge: a pod restarted by a new agent may change IP.
      {"hostIPs", json::array({{{"ip", s.host_ip}}, {{"$patch", "replace"}}})},
      {"podIP", s.pod_ip},
      {"podIPs", json::array({{{"ip", s.pod_ip}}, {{"$patch", "replace"}}})},
      {"startTime", s.start_time},
      {"conditions",
       json::array({condition("PodReadyToStartContainers", running, now), condition("Initialized", true, now),
                    condition("ContainersReady", ready, now, ready ? nullptr : not_ready_reason),
                    condition("Ready", ready, now, ready ? nullptr : not_ready_reason)})},
      {"containerStatuses", json::array({cs})},
  };
  return {{"status", status}};
}

namespace {

const json* first_container_status(const json& pod) {
  auto st = pod.find("status");
  if (st == pod.end() || !st->is_object()) return nullptr;
  auto cs = st->find("containerStatuses");
  if (cs == st->end() || !cs->is_array() || cs->empty() || !(*cs)[0].is_object()) return nullptr;
  return &(*cs)[0];
}

std::string string_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

int restart_count_of(const json& cs) {
  auto n = cs.find("restartCount");
  return n != cs.end() && n->is_number_integer() ? n->get<int>() : 0;
}

}  // namespace

std::optional<RunState> reported_run_state(const json& pod) {
  const json* cs = first_container_status(pod);
  if (!cs) return std::nullopt;
  const json running = cs->value("state", json::object()).value("running", json());
  const json& status = pod["status"];
  RunState rs;
  rs.container = string_or_empty(*cs, "name");
  rs.image = string_or_empty(*cs, "image");
  rs.pod_ip = string_or_empty(status, "podIP");
  rs.host_ip = string_or_empty(status, "hostIP");
  rs.start_time = string_or_empty(status, "startTime");
  rs.restart_count = restart_count_of(*cs);
  rs.ready = cs->value("ready", false);
  if (!running.is_object() || rs.container.empty() || rs.pod_ip.empty() || rs.start_time.empty()) return std::nullopt;
  return rs;
}

int restart_count_for_new_process(const json& pod) {
  const json* cs = first_container_status(pod);
  if (!cs) return 0;
  const json state = cs->value("state", json::object());
  const bool ran = state.contains("running") || state.contains("terminated");
  return restart_count_of(*cs) + (ran ? 1 : 0);
}

json waiting_patch(const std::string& container, const std::string& image, const std::string& reason,
                   const std::string& message, const std::string& host_ip) {
  json cs = {{"name", container},
             {"image", image},
             {"imageID", ""},
             {"restartCount", 0},
             {"started", false},
             {"ready", false},
             {"state", {{"waiting", {{"reason", reason}, {"message", message}}}}}};
  json status = {{"phase", "Pending"},
                 {"hostIP", host_ip},
                 {"hostIPs", json::array({{{"ip", host_ip}}})},
                 {"containerStatuses", json::array({cs})}};
  return {{"status", status}};
}

}  // namespace arl::localnode
