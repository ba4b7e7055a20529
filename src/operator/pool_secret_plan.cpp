#include "operator/pool_secret_plan.h"

#include "operator/pod_state.h"

namespace arl::op {

using nlohmann::json;

bool pool_token_in_use(const std::string& pool, const std::vector<Cache::Obj>& sandboxes) {
  for (const auto& ptr : sandboxes) {
    const json& s = *ptr;
    if (pod_is_terminating(s) || !s.contains("spec") || s["spec"].value("poolRef", "") != pool) continue;
    if (!s.contains("status") || !s["status"].is_object()) continue;
    const json& st = s["status"];
    const std::string phase = st.value("phase", "");
    if (!st.value("podName", "").empty() && phase != "Released" && phase != "Failed") return true;
  }
  return false;
}

}  // namespace arl::op
