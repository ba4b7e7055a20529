#include "operator/pool_status_pacing.h"

#include <algorithm>

namespace arl::op {

void observe_pool_status(PoolStatusClock& clock, int64_t allocated, bool differs, PoolStatusClock::TimePoint now) {
  // The first sight of a pool is not churn: its first status goes out at once.
  if (clock.allocated && *clock.allocated != allocated) clock.allocated_changed = now;
  clock.allocated = allocated;
  if (!differs)
    clock.pending_since.reset();
  else if (!clock.pending_since)
    clock.pending_since = now;
}

PoolStatusClock::TimePoint pool_status_due(const PoolStatusClock& clock, const PoolStatusPacing& pacing) {
  const auto paced = clock.last_write + pacing.interval;
  const auto first_seen = clock.pending_since.value_or(clock.allocated_changed);
  const auto settled = clock.allocated_changed + pacing.settle;
  // Churn that began before this change was pending still delays it: the
  // pool has not settled.
  if (settled <= first_seen) return paced;
  return std::max(paced, std::min(settled, first_seen + pacing.max_delay));
}

void pool_status_written(PoolStatusClock& clock, PoolStatusClock::TimePoint now) {
  clock.last_write = now;
  clock.pending_since.reset();
}

}  // namespace arl::op
