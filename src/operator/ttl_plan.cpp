#include "operator/ttl_plan.h"

namespace arl::op {

std::optional<Deadline> deadline_after(std::optional<int64_t> seconds, const std::string& since, core::TimePoint now) {
  if (!seconds) return std::nullopt;
  auto start = core::parse_rfc3339(since);
  if (!start) return std::nullopt;
  core::TimePoint due{std::chrono::seconds(*start + *seconds)};
  if (now >= due) return Deadline{true, {}};
  // Rounded up, plus a margin: waking a hair early would find the deadline
  // not yet passed and cost another round.
  auto left = std::chrono::ceil<std::chrono::milliseconds>(due - now);
  return Deadline{false, left + std::chrono::milliseconds(50)};
}

}  // namespace arl::op
