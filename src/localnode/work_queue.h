#pragma once
// A keyed work queue: a key is queued at most once, and never handed to two
// workers at the same time (an add while it is being processed re-queues it
// when the worker calls done). Delayed adds serve retries.
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>

namespace arl::localnode {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  /// Blocks until a key is ready or stop is requested (then nullopt).
  std::optional<std::string> get(std::stop_token stop);
  void done(const std::string& key);
  /// Wakes every waiting get() (used at shutdown).
  void shutdown();
  size_t size() const;

 private:
  void add_locked(const std::string& key);
  void promote_due_locked(Clock::time_point now);

  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::string> queue_;
  std::set<std::string> queued_;
  std::set<std::string> processing_;
  std::set<std::string> dirty_while_processing_;
  std::multimap<Clock::time_point, std::string> delayed_;
  uint64_t delayed_gen_ = 0;  // an earlier deadline may have been added
  bool shutdown_ = false;
};

}  // namespace arl::localnode
