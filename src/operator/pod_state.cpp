#include "operator/pod_state.h"

#include <algorithm>

#include "core/json_view.h"
#include "core/names.h"

namespace arl::op {

using nlohmann::json;

std::string pod_label(const json& pod, std::string_view key) {
  return core::string_at(core::object_at(core::object_at(pod, "metadata"), "labels"), key);
}

std::string pod_ip(const json& pod) {
  if (!pod.contains("status") || !pod["status"].is_object()) return "";
  return pod["status"].value("podIP", "");
}

namespace {

const json* sidecar_container_status(const json& pod, std::string* name_out = nullptr) {
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return nullptr;
  auto containers = spec->find("containers");
  if (containers == spec->end() || !containers->is_array() || containers->empty() || !(*containers)[0].is_object()) return nullptr;
  const std::string name = (*containers)[0].value("name", "");
  if (name_out) *name_out = name;
  auto status = pod.find("status");
  if (status == pod.end() || !status->is_object()) return nullptr;
  auto statuses = status->find("containerStatuses");
  if (statuses == status->end() || !statuses->is_array()) return nullptr;
  for (const auto& s : *statuses)
    if (s.is_object() && s.value("name", "") == name) return &s;
  return nullptr;
}

}  // namespace

int64_t sidecar_restarts(const json& pod) {
  const json* s = sidecar_container_status(pod);
  if (!s) return 0;
  auto n = s->find("restartCount");
  return n != s->end() && n->is_number_integer() ? n->get<int64_t>() : 0;
}

void trim_cached_pod(json& pod) {
  std::string sidecar;
  json restarts;
  if (const json* s = sidecar_container_status(pod, &sidecar); s && s->contains("restartCount"))
    restarts = json::array({{{"name", sidecar}, {"restartCount", (*s)["restartCount"]}}});
  pod.erase("spec");
  if (!sidecar.empty()) pod["spec"] = {{"containers", json::array({{{"name", sidecar}}})}};
  if (pod.contains("metadata")) pod["metadata"].erase("annotations");
  if (!pod.contains("status") || !pod["status"].is_object()) return;
  json& st = pod["status"];
  json kept = json::object();
  for (const char* key : {"phase", "podIP"})
    if (st.contains(key)) kept[key] = st[key];
  if (st.contains("conditions") && st["conditions"].is_array()) {
    kept["conditions"] = json::array();
    for (const auto& c : st["conditions"])
      if (c.value("type", "") == "Ready") kept["conditions"].push_back({{"type", "Ready"}, {"status", c.value("status", "")}});
  }
  if (!restarts.is_null()) kept["containerStatuses"] = std::move(restarts);
  st = std::move(kept);
}

bool pod_is_terminating(const json& pod) {
  return pod.contains("metadata") && pod["metadata"].contains("deletionTimestamp") &&
         !pod["metadata"]["deletionTimestamp"].is_null();
}

bool pod_has_failed(const json& pod) {
  if (!pod.contains("status") || !pod["status"].is_object()) return false;
  std::string phase = pod["status"].value("phase", "");
  return phase == "Failed" || phase == "Succeeded";
}

bool pod_is_ready(const json& pod) {
  if (pod_is_terminating(pod) || pod_has_failed(pod)) return false;
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return false;
  for (const auto& c : pod["status"]["conditions"])
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  return false;
}

bool pod_is_idle(const json& pod) {
  return pod_label(pod, labels::kPodState) == labels::kPodStateReady && !pod_is_terminating(pod);
}

PoolPlan plan_pool(int64_t replicas, const std::vector<std::shared_ptr<const json>>& pods) {
  PoolPlan plan;
  std::vector<const json*> healthy_idle;
  for (const auto& ptr : pods) {
    const json& pod = *ptr;
    if (pod_is_terminating(pod)) continue;
    ++plan.total;
    if (!pod_is_idle(pod)) {
      ++plan.allocated;
      continue;
    }
    if (pod_has_failed(pod)) {
      plan.to_delete.push_back(pod["metadata"].value("name", ""));
      continue;
    }
    healthy_idle.push_back(&pod);
    if (pod_is_ready(pod)) ++plan.ready;
  }
  plan.idle = static_cast<int64_t>(healthy_idle.size());
  if (plan.idle < replicas) {
    plan.to_create = replicas - plan.idle;
  } else if (plan.idle > replicas) {
    // Keep ready pods over starting ones, and older over newer: the oldest
    // ready pods are the ones most likely to be allocated next.
    std::stable_sort(healthy_idle.begin(), healthy_idle.end(), [](const json* a, const json* b) {
      bool ra = pod_is_ready(*a), rb = pod_is_ready(*b);
      if (ra != rb) return ra;
      return a->at("metadata").value("creationTimestamp", "") < b->at("metadata").value("creationTimestamp", "");
    });
    for (size_t i = static_cast<size_t>(replicas); i < healthy_idle.size(); ++i) {
      if (pod_is_ready(*healthy_idle[i])) --plan.ready;
      plan.to_delete.push_back(healthy_idle[i]->at("metadata").value("name", ""));
    }
  }
  return plan;
}

void defer_refill(PoolPlan& plan, int64_t waiting) {
  if (waiting <= 0 || plan.to_create <= 0) return;
  const int64_t lacking = std::max<int64_t>(0, waiting - plan.idle);
  const int64_t now = std::min(plan.to_create, lacking);
  plan.deferred = plan.to_create - now;
  plan.to_create = now;
}

}  // namespace arl::op
