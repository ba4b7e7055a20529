#include "localnode/work_queue.h"

namespace arl::localnode {

void WorkQueue::add_locked(const std::string& key) {
  if (processing_.count(key)) {
    dirty_while_processing_.insert(key);
    return;
  }
  if (queued_.insert(key).second) {
    queue_.push_back(key);
    cv_.notify_one();
  }
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lk(mu_);
  add_locked(key);
}

void WorkQueue::add_after(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lk(mu_);
  delayed_.emplace(Clock::now() + delay, key);
  ++delayed_gen_;
  cv_.notify_all();
}

void WorkQueue::promote_due_locked(Clock::time_point now) {
  while (!delayed_.empty() && delayed_.begin()->first <= now) {
    auto key = delayed_.begin()->second;
    delayed_.erase(delayed_.begin());
    add_locked(key);
  }
}

std::optional<std::string> WorkQueue::get(std::stop_token stop) {
  std::unique_lock lk(mu_);
  for (;;) {
    if (shutdown_ || stop.stop_requested()) return std::nullopt;
    promote_due_locked(Clock::now());
    if (!queue_.empty()) {
      auto key = std::move(queue_.front());
      queue_.pop_front();
      queued_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (delayed_.empty()) {
      cv_.wait(lk, stop, [&] { return shutdown_ || !queue_.empty() || !delayed_.empty(); });
    } else {
      const auto gen = delayed_gen_;
      cv_.wait_until(lk, stop, delayed_.begin()->first,
                     [&] { return shutdown_ || !queue_.empty() || delayed_gen_ != gen; });
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lk(mu_);
  processing_.erase(key);
  if (dirty_while_processing_.erase(key)) add_locked(key);
}

void WorkQueue::shutdown() {
  std::lock_guard lk(mu_);
  shutdown_ = true;
  cv_.notify_all();
}

size_t WorkQueue::size() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

}  // namespace arl::localnode
