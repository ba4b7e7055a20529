#pragma once
// The info line an operator writes when one of its objects needs a new
// decision: created (or first seen), its spec changed, or deleted. Status-only
// events, most of them the operator's own writes, stay at debug level: a busy
// pool would otherwise log a line per allocation.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace arl::op {

struct ReconcileLogLine {
  std::string message;  // "Reconciling WarmPool <ns>/<name>"
  std::string cause;    // created | spec changed | deleted
  bool operator==(const ReconcileLogLine&) const = default;
};

/// kind: "WarmPool" | "Sandbox" | "Task". old: null on add; deleted: the
/// delete event (obj is the last state seen). nullopt: nothing to say.
std::optional<ReconcileLogLine> reconcile_log_line(const char* kind, const nlohmann::json* old, const nlohmann::json& obj, bool deleted);

}  // namespace arl::op
