#include "operator/reconcile_log.h"

namespace arl::op {

using nlohmann::json;

namespace {

int64_t generation(const json& obj) {
  auto meta = obj.find("metadata");
  if (meta == obj.end() || !meta->is_object()) return 0;
  auto g = meta->find("generation");
  return g != meta->end() && g->is_number_integer() ? g->get<int64_t>() : 0;
}

}  // namespace

std::optional<ReconcileLogLine> reconcile_log_line(const char* kind, const json* old, const json& obj, bool deleted) {
  std::string cause;
  if (deleted) cause = "deleted";
  else if (!old) cause = "created";
  // metadata.generation moves with the spec only (the status subresource and
  // label changes leave it), so this is "the user changed what they asked for".
  else if (generation(*old) != generation(obj)) cause = "spec changed";
  else return std::nullopt;
  const json& meta = obj.at("metadata");
  return ReconcileLogLine{std::string("Reconciling ") + kind + " " + meta.value("namespace", "") + "/" + meta.value("name", ""), cause};
}

}  // namespace arl::op
