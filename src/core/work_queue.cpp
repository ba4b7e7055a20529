#include "core/work_queue.h"

#include <algorithm>

namespace arl::core {

void WorkQueue::add_locked(const std::string& key) {
  if (processing_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) {
    ready_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  if (!shutdown_) add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  if (delay.count() <= 0) return add(key);
  std::lock_guard lock(mu_);
  if (shutdown_) return;
  auto due = Clock::now() + delay;
  // One pending timer per key is enough: keep the earliest.
  for (auto it = delayed_.begin(); it != delayed_.end(); ++it) {
    if (it->second != key) continue;
    if (it->first <= due) return;
    delayed_.erase(it);
    break;
  }
  delayed_.emplace(due, key);
  cv_.notify_all();
}

void WorkQueue::add_rate_limited(const std::string& key) {
  int n;
  {
    std::lock_guard lock(mu_);
    n = failures_[key]++;
  }
  auto delay = std::chrono::milliseconds(5) * (1LL << std::min(n, 13));
  add_after(key, std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(30)));
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

std::optional<std::string> WorkQueue::get(std::stop_token stop) {
  std::unique_lock lock(mu_);
  for (;;) {
    if (shutdown_ || stop.stop_requested()) return std::nullopt;
    auto now = Clock::now();
    while (!delayed_.empty() && delayed_.begin()->first <= now) {
      std::string key = delayed_.begin()->second;
      delayed_.erase(delayed_.begin());
      add_locked(key);
    }
    if (!ready_.empty()) {
      std::string key = ready_.front();
      ready_.pop_front();
      queued_.erase(key);
      processing_.insert(key);
      return key;
    }
    // The stop-token waits return when stop is requested.
    if (delayed_.empty()) cv_.wait(lock, stop, [&] { return shutdown_ || !ready_.empty() || !delayed_.empty(); });
    else {
      // A copy: waiting on a reference into delayed_ reads freed memory once
      // another thread erases that entry.
      const Clock::time_point due = delayed_.begin()->first;
      cv_.wait_until(lock, stop, due, [&] {
        return shutdown_ || !ready_.empty() || (!delayed_.empty() && delayed_.begin()->first < due);
      });
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.erase(key) && !shutdown_) add_locked(key);
}

void WorkQueue::shutdown() {
  std::lock_guard lock(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

size_t WorkQueue::size() const {
  std::lock_guard lock(mu_);
  return ready_.size() + delayed_.size();
}

}  // namespace arl::core
