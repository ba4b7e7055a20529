#include "operator/events.h"

#include <fmt/format.h>

#include "core/types.h"
#include "operator/pod_builder.h"

namespace arl::op {

void EventRecorder::record(const nlohmann::json& object, const std::string& type, const std::string& reason,
                           const std::string& message) {
  const auto& meta = object.at("metadata");
  std::string uid = meta.value("uid", "");
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(uid + "/" + reason + "/" + message).second) return;
  }
  std::string now = core::now_rfc3339();
  std::string ns = meta.value("namespace", "");
  nlohmann::json ev{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", fmt::format("{}.{}", meta.value("name", "obj"), random_suffix(10))}, {"namespace", ns}}},
      {"involvedObject",
       {{"apiVersion", object.value("apiVersion", "")},
        {"kind", object.value("kind", "")},
        {"name", meta.value("name", "")},
        {"namespace", ns},
        {"uid", uid},
        {"resourceVersion", meta.value("resourceVersion", "")}}},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"source", {{"component", component_}}},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1}};
  try {
    api_.create(k8s::resources::events, ns, ev);
  } catch (const std::exception&) {
  }
}

}  // namespace arl::op
