#include "operator/pool_status_plan.h"

#include <algorithm>

#include <fmt/format.h>

namespace arl::op {

core::WarmPoolStatus plan_pool_status(const core::WarmPool& pool, const PoolPlan& plan, core::TimePoint now,
                                      const std::string& create_error) {
  const int64_t replicas = std::max<int64_t>(0, pool.spec.replicas.value_or(0));
  const int64_t generation = pool.metadata.generation;
  core::WarmPoolStatus st;
  st.ready_replicas = plan.ready;
  st.allocated_replicas = plan.allocated;
  st.replicas = plan.total - static_cast<int64_t>(plan.to_delete.size()) + (create_error.empty() ? plan.to_create : 0);
  st.observed_generation = generation;
  // Refused creates: Pending (not Scaling) until the template or quota is fixed.
  const bool starting = plan.total == 0 && plan.to_create > 0;
  st.phase = plan.ready >= replicas ? "Ready" : (starting || !create_error.empty() ? "Pending" : "Scaling");
  st.conditions = pool.status.conditions;
  if (!create_error.empty()) {
    core::set_condition(st.conditions, {"Ready", "False", "PodCreateFailed", create_error, "", generation}, now);
    return st;
  }
  core::set_condition(st.conditions,
                      plan.ready >= replicas
                          ? core::Condition{"Ready", "True", "PoolReady", fmt::format("{} idle pods ready", plan.ready), "", generation}
                          : core::Condition{"Ready", "False", "WarmingUp", fmt::format("{} of {} idle pods ready", plan.ready, replicas),
                                            "", generation},
                      now);
  return st;
}

}  // namespace arl::op
