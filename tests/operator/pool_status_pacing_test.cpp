#include <doctest/doctest.h>

#include <vector>

#include "operator/pool_status_pacing.h"

using namespace arl::op;
using namespace std::chrono_literals;

namespace {

using TimePoint = PoolStatusClock::TimePoint;
TimePoint at(std::chrono::milliseconds ms) { return TimePoint{} + 1h + ms; }

// One reconcile of a pool: when it ran, what it saw, and what the pacing
// must answer (the write due at, in ms; nullopt: the status matched, no write).
struct Step {
  int64_t t_ms;
  int64_t allocated;
  bool differs;
  std::optional<int64_t> due_ms;
};

// Runs the steps with the default pacing (250 ms, settle 500 ms, at most
// 5 s), writing whenever a step is due.
void run(const std::vector<Step>& steps) {
  PoolStatusClock clock;
  const PoolStatusPacing pacing;
  for (const auto& s : steps) {
    CAPTURE(s.t_ms);
    const TimePoint now = at(std::chrono::milliseconds(s.t_ms));
    observe_pool_status(clock, s.allocated, s.differs, now);
    if (!s.differs) {
      CHECK_FALSE(s.due_ms.has_value());
      continue;
    }
    REQUIRE(s.due_ms.has_value());
    const TimePoint due = pool_status_due(clock, pacing);
    CHECK(due == at(std::chrono::milliseconds(*s.due_ms)));
    if (due <= now) pool_status_written(clock, now);
  }
}

}  // namespace

TEST_CASE("a new pool's status goes out at once, then at most once per interval while it fills") {
  run({{0, 0, true, -3'600'000 + 250},  // never written: due an interval after the epoch, long past
       {100, 0, true, 250},
       {300, 0, true, 250},
       {310, 0, false, std::nullopt}});
}

TEST_CASE("allocations coming back to back hold the write until the pool settles") {
  run({{0, 0, false, std::nullopt},  // settled pool, status written long ago
       {10, 1, true, 510},           // an allocation: wait for quiet
       {40, 1, true, 510},           // the refill pod Ready: same churn
       {50, 2, true, 550},           // the next allocation pushes it on
       {90, 3, true, 590},
       {590, 3, true, 590}});        // quiet for 500 ms: written
}

TEST_CASE("endless churn is still written every max_delay") {
  std::vector<Step> steps{{0, 0, false, std::nullopt}};
  for (int64_t t = 100; t < 5100; t += 100) steps.push_back({t, t / 100, true, t + 500 <= 5100 ? t + 500 : 5100});
  steps.push_back({5100, 51, true, 5100});  // the first change is 5 s old: written
  steps.push_back({5200, 52, true, 5700});  // and the next change waits for quiet again
  run(steps);
}

TEST_CASE("a change after the churn settled waits only for the interval") {
  run({{0, 0, false, std::nullopt},
       {10, 1, true, 510},
       {510, 1, true, 510},   // written at 510
       {2000, 1, true, 760},  // a scale long after the last allocation: written at once
       {2100, 1, true, 2250}});
}
