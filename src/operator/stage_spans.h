#pragma once
// Where an allocation's (or a task's) time goes: spans measured on the
// monotonic clock along one reconcile and observed as one histogram series
// per stage (arl_allocation_stage_seconds{stage="claim"}, ...) only when the
// work they belong to succeeded, so a retried claim does not mix a failed
// attempt into the table that scripts/bench.sh operator prints.
#include <chrono>
#include <string>
#include <vector>

#include "operator/metrics.h"

namespace arl::op {

class StageSpans {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  void add(const char* stage, TimePoint begin, TimePoint end) { spans_.push_back({stage, begin, end}); }
  /// One observation per span into `metric`, labelled stage="<name>".
  void observe(Metrics& metrics, const std::string& metric) const {
    for (const auto& s : spans_)
      metrics.observe(metric, std::string("stage=\"") + s.stage + "\"", std::chrono::duration<double>(s.end - s.begin).count());
  }
  bool empty() const { return spans_.empty(); }

 private:
  struct Span {
    const char* stage;
    TimePoint begin, end;
  };
  std::vector<Span> spans_;
};

}  // namespace arl::op
