#include "core/fork_spec.h"


#include <fmt/format.h>

#include "core/json_reader.h"

namespace arl::core {

using nlohmann::json;

std::optional<ForkOf> fork_of_from_json(const json& sandbox) {
  JsonReader spec = JsonReader(sandbox, "").child("spec");
  if (!spec.has("forkOf")) return std::nullopt;
  JsonReader f = spec.child("forkOf");
  return ForkOf{f.str("sandbox"), f.str("checkpoint")};
}

json to_json(const ForkOf& f) {
  json j{{"sandbox", f.sandbox}};
  if (!f.checkpoint.empty()) j["checkpoint"] = f.checkpoint;
  return j;
}

std::vector<FieldError> validate_fork(const ForkOf& f, std::string_view self) {
  std::vector<FieldError> errs;
  if (f.sandbox.empty()) errs.push_back({"spec.forkOf.sandbox", "required: the name of a Sandbox in the same namespace"});
  else if (!is_dns1123_subdomain(f.sandbox))
    errs.push_back({"spec.forkOf.sandbox", fmt::format("\"{}\" is not a valid Sandbox name", f.sandbox)});
  else if (f.sandbox == self)
    errs.push_back({"spec.forkOf.sandbox", "a sandbox cannot fork itself: name another sandbox"});
  if (!f.checkpoint.empty() && !is_checkpoint_ref(f.checkpoint))
    errs.push_back({"spec.forkOf.checkpoint",
                    fmt::format("\"{}\" is not a checkpoint id or name (1-63 characters of A-Z, a-z, 0-9, '.', '_' or '-', "
                                "starting with a letter or digit)",
                                f.checkpoint)});
  return errs;
}

}  // namespace arl::core
