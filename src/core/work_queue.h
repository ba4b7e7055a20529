#pragma once
// A rate-limited work queue with per-key de-duplication, as client-go's:
// a key queued twice is processed once; a key re-added while a worker holds
// it is processed again after that worker is done (never by two workers at
// once); failures requeue with exponential backoff.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>

namespace arl::core {

class WorkQueue {
 public:
  using Clock = std::chrono::steady_clock;

  void add(const std::string& key);
  void add_after(const std::string& key, std::chrono::milliseconds delay);
  /// Requeue after a failure: 5 ms doubling per consecutive failure, capped at 30 s.
  void add_rate_limited(const std::string& key);
  void forget(const std::string& key);  // reset its failure count
  /// Blocks until a key is due, shutdown() or `stop` (then nullopt).
  std::optional<std::string> get(std::stop_token stop = {});
  void done(const std::string& key);
  void shutdown();
  size_t size() const;

 private:
  void add_locked(const std::string& key);
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  std::deque<std::string> ready_;
  std::set<std::string> queued_, processing_, dirty_;
  std::multimap<Clock::time_point, std::string> delayed_;
  std::map<std::string, int> failures_;
  bool shutdown_ = false;
};

}  // namespace arl::core
