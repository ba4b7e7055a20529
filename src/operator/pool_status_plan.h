#pragma once
// A WarmPool's status as a pure function of the pool, the plan for its pods
// and `now`; pool_controller.cpp writes it only when it differs.
#include "core/types.h"
#include "operator/pod_state.h"

namespace arl::op {

/// The status once `plan` is carried out: pods to delete are already gone,
/// pods to create already counted (as starting, not ready).
core::WarmPoolStatus plan_pool_status(const core::WarmPool& pool, const PoolPlan& plan, core::TimePoint now);

}  // namespace arl::op
