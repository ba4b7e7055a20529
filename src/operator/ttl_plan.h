#pragma once
// Deadlines measured from a timestamp in an object's status (TTLs, grace
// periods), decided against a `now` passed in so tests need no sleeping.
#include <chrono>
#include <optional>
#include <string>

#include "core/types.h"

namespace arl::op {

struct Deadline {
  bool passed = false;
  std::chrono::milliseconds requeue_after{0};  // when not passed: reconcile again then
  bool operator==(const Deadline&) const = default;
};

/// `seconds` after the RFC 3339 time `since`. nullopt when there is no
/// deadline: `seconds` unset, or `since` empty or malformed.
std::optional<Deadline> deadline_after(std::optional<int64_t> seconds, const std::string& since, core::TimePoint now);

}  // namespace arl::op
