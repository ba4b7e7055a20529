#pragma once
// Waiting for an object to reach a state: a watch (never a sleep loop), a
// deadline, Ctrl-C, and a one-line progress display on a terminal only.
#include <chrono>
#include <functional>
#include <iosfwd>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "k8s/kube_api.h"

namespace arl::kubectl {

struct WaitSpec {
  const k8s::Resource* resource = nullptr;
  std::string ns;
  std::string name;
  std::string what;  // "sandbox sb-1", for messages
  /// true when the wait is over. Gets nullopt-free objects only.
  std::function<bool(const nlohmann::json&)> done;
  /// Short state for the progress line and the timeout message ("Pending").
  std::function<std::string(const nlohmann::json&)> describe;
  /// Called for each new version of the object (e.g. to print finished steps).
  std::function<void(const nlohmann::json&)> on_change;
  std::chrono::milliseconds timeout{0};  // 0: no deadline
  bool interactive = false;
  std::ostream* progress = nullptr;      // where the progress line goes (stderr)
};

/// Returns the object once `done` holds. Throws Error{timeout} at the
/// deadline, Error{not_found} when the object is or gets deleted, and
/// ExitStatus{130} on Ctrl-C (after saying what it was waiting for).
nlohmann::json wait_for(k8s::KubeApi& api, const WaitSpec& spec);

/// Ctrl-C as a stop_token: while an InterruptScope lives, SIGINT requests
/// stop on its token instead of killing the process.
class InterruptScope {
 public:
  explicit InterruptScope(std::chrono::milliseconds deadline = std::chrono::milliseconds{0});
  ~InterruptScope();
  InterruptScope(const InterruptScope&) = delete;
  InterruptScope& operator=(const InterruptScope&) = delete;
  std::stop_token token() const;
  bool interrupted() const;
  bool timed_out() const;
  /// Runs `tick` about every 100 ms from the monitor thread (progress display).
  void on_tick(std::function<void()> tick);

 private:
  struct State;
  State* state_;
};

}  // namespace arl::kubectl
