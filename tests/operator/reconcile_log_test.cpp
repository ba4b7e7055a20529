#include <doctest/doctest.h>

#include "operator/reconcile_log.h"

using namespace arl::op;
using nlohmann::json;

namespace {
json obj(int64_t generation, json status = json::object()) {
  return json{{"metadata", {{"name", "py"}, {"namespace", "ns1"}, {"generation", generation}}}, {"status", status}};
}
}  // namespace

TEST_CASE("the Reconciling line: on create, spec change and delete, never on a status-only event") {
  struct Row {
    const char* name;
    std::optional<json> old;
    json now;
    bool deleted;
    std::optional<ReconcileLogLine> want;
  };
  const std::vector<Row> rows = {
      {"created (or first seen at start-up)", std::nullopt, obj(1), false, ReconcileLogLine{"Reconciling WarmPool ns1/py", "created"}},
      {"spec changed: generation moved", obj(1), obj(2), false, ReconcileLogLine{"Reconciling WarmPool ns1/py", "spec changed"}},
      {"status only (our own writes, the refill pods turning ready)", obj(2, {{"readyReplicas", 1}}), obj(2, {{"readyReplicas", 2}}),
       false, std::nullopt},
      {"same object again (a resync or re-list)", obj(2), obj(2), false, std::nullopt},
      {"deleted", std::nullopt, obj(2), true, ReconcileLogLine{"Reconciling WarmPool ns1/py", "deleted"}},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    CHECK(reconcile_log_line("WarmPool", row.old ? &*row.old : nullptr, row.now, row.deleted) == row.want);
  }
  CHECK(reconcile_log_line("Task", nullptr, obj(1), false)->message == "Reconciling Task ns1/py");
}
