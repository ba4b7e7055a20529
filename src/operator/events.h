#pragma once
// Kubernetes Events on our objects, for waits and failures only (never on
// the happy path: each Event is an API write). Repeats of the same reason on
// the same object are written once per process.
#include <mutex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "k8s/kube_api.h"

namespace arl::op {

/// An Event a plan asks for; the recorder adds the object and the time.
struct EventSpec {
  std::string type;  // "Normal" | "Warning"
  std::string reason;
  std::string message;
  bool operator==(const EventSpec&) const = default;
};

class EventRecorder {
 public:
  explicit EventRecorder(k8s::KubeApi& api, std::string component = "arl-operator") : api_(api), component_(std::move(component)) {}
  /// type: "Normal" | "Warning". Errors writing the Event are swallowed
  /// (an Event must never fail a reconcile).
  void record(const nlohmann::json& object, const std::string& type, const std::string& reason, const std::string& message);
  void record(const nlohmann::json& object, const EventSpec& e) { record(object, e.type, e.reason, e.message); }

 private:
  k8s::KubeApi& api_;
  std::string component_;
  std::mutex mu_;
  std::set<std::string> seen_;
};

}  // namespace arl::op
