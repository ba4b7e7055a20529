#include "localnode/pod_decision.h"

#include <algorithm>

#include "core/json_view.h"

namespace arl::localnode {

namespace {

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

}  // namespace

PodView view_of(const json& pod) {
  const auto& meta = core::object_at(pod, "metadata");
  const auto& spec = core::object_at(pod, "spec");
  PodView v;
  v.uid = str_at(meta, "uid");
  v.node_name = str_at(spec, "nodeName");
  v.scheduler_name = str_at(spec, "schedulerName");
  const json selector = spec.value("nodeSelector", json::object());
  for (const auto& [k, val] : selector.items()) {
    if (val.is_string()) v.node_selector[k] = val.get<std::string>();
  }
  auto ts = meta.find("deletionTimestamp");
  v.deleting = ts != meta.end() && !ts->is_null();
  v.phase = str_at(pod.value("status", json::object()), "phase");
  return v;
}

bool schedulable_here(const PodView& pod, const NodeView& node) {
  if (!(pod.scheduler_name.empty() || pod.scheduler_name == "default-scheduler")) return false;
  for (const auto& [k, v] : pod.node_selector) {
    auto it = node.labels.find(k);
    if (it == node.labels.end() || it->second != v) return false;
  }
  return true;
}

bool adopt_leftover(const std::string& leftover_uid, const std::optional<PodView>& pod, bool reported,
                    bool network_kept, const NodeView& node) {
  return network_kept && pod && !leftover_uid.empty() && pod->uid == leftover_uid && pod->node_name == node.name &&
         reported;
}

PodDecision decide_pod(const std::optional<PodView>& pod, const std::optional<std::string>& local_uid,
                       const NodeView& node) {
  PodDecision d;
  if (!pod) {
    if (local_uid) d.action = PodAction::stop;
    return d;
  }
  // Same name, new pod (a StatefulSet-style replacement): the old process goes.
  d.kill_stale = local_uid && *local_uid != pod->uid;
  const bool running_here = local_uid && !d.kill_stale;
  if (pod->node_name.empty()) {
    if (pod->deleting || !schedulable_here(*pod, node)) return d;
    d.bind = true;
    d.action = PodAction::start;
    return d;
  }
  if (pod->node_name != node.name) return d;
  if (pod->deleting) {
    d.action = PodAction::finish_deletion;
  } else if (running_here) {
    d.action = PodAction::report_status;
  } else if (pod->phase != "Succeeded" && pod->phase != "Failed") {
    // A pod that finished (e.g. before the agent restarted) stays finished:
    // the local node never restarts containers.
    d.action = PodAction::start;
  }
  return d;
}

std::chrono::seconds deletion_grace(const json& pod, std::chrono::seconds max) {
  int64_t g = 30;
  const auto& meta = core::object_at(pod, "metadata");
  const auto& spec = core::object_at(pod, "spec");
  if (auto it = meta.find("deletionGracePeriodSeconds"); it != meta.end() && it->is_number()) {
    g = it->get<int64_t>();
  } else if (auto s = spec.find("terminationGracePeriodSeconds"); s != spec.end() && s->is_number()) {
    g = s->get<int64_t>();
  }
  return std::min(std::chrono::seconds(std::max<int64_t>(g, 0)), max);
}

bool status_write_due(const StatusView& s, std::chrono::milliseconds ready_wait) {
  const bool ready = s.ready && !s.exited;
  if (s.phase == s.reported_phase && ready == s.reported_ready) return false;
  return s.exited || ready || s.age >= ready_wait;
}

std::chrono::milliseconds probe_interval(std::chrono::milliseconds age) {
  using namespace std::chrono_literals;
  return age < 2s ? 2ms : age < 10s ? 50ms : 500ms;
}

}  // namespace arl::localnode
