#pragma once
// A WarmPool's status as a pure function of the pool, the plan for its pods
// and `now`; pool_controller.cpp writes it only when it differs.
#include "core/types.h"
#include "operator/pod_state.h"

namespace arl::op {

/// The status once `plan` is carried out: pods to delete are already gone,
/// pods to create already counted (as starting, not ready). `create_error`
/// (empty: none) is why the API server refused the pool's pods, e.g. Pod
/// Security admission; Ready=False quotes it so `kubectl get warmpool -o yaml`
/// says what to fix in the template.
core::WarmPoolStatus plan_pool_status(const core::WarmPool& pool, const PoolPlan& plan, core::TimePoint now,
                                      const std::string& create_error = "");

}  // namespace arl::op
