#pragma once
// When a changed WarmPool status is written. Every allocation makes the
// pool's status churn (allocated +1, ready -1 and Scaling until the refill
// pod is Ready, then Ready again): a write per allocation would cost the
// API server a fourth write beside the claim, the sandbox status and the
// refill, and land on the next allocation's path. So while allocations (or
// releases) keep coming the write waits for the pool to settle, never
// longer than `max_delay` after the change was first seen; any other change
// (a new pool filling, a scale, a refused create) is written at most once
// per `interval`, so a watcher sees progress.
#include <chrono>
#include <cstdint>
#include <optional>

namespace arl::op {

struct PoolStatusPacing {
  std::chrono::milliseconds interval{250};
  std::chrono::milliseconds settle{500};
  std::chrono::milliseconds max_delay{5000};
};

/// One pool's history as the pacing needs it (kept per pool by the operator).
struct PoolStatusClock {
  using TimePoint = std::chrono::steady_clock::time_point;
  TimePoint last_write{};
  std::optional<int64_t> allocated;  // allocated pods when last seen
  TimePoint allocated_changed{};     // when that count last changed
  std::optional<TimePoint> pending_since;  // first seen differing from the written status
};

/// Records what a reconcile saw: the pool's allocated count and whether its
/// planned status differs from the one written.
void observe_pool_status(PoolStatusClock& clock, int64_t allocated, bool differs, PoolStatusClock::TimePoint now);

/// When the differing status may be written (<= now: write it now).
PoolStatusClock::TimePoint pool_status_due(const PoolStatusClock& clock, const PoolStatusPacing& pacing);

/// After the write went out.
void pool_status_written(PoolStatusClock& clock, PoolStatusClock::TimePoint now);

}  // namespace arl::op
