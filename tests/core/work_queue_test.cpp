#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/work_queue.h"

using arl::core::WorkQueue;
using namespace std::chrono_literals;

TEST_CASE("a key added twice is processed once; re-added while processing, once more after") {
  WorkQueue q;
  q.add("a");
  q.add("a");
  q.add("b");
  CHECK(q.get() == "a");
  q.add("a");  // while a worker holds it
  CHECK(q.get() == "b");
  q.done("b");
  q.done("a");
  CHECK(q.get() == "a");
  q.done("a");
  CHECK(q.size() == 0);
}

TEST_CASE("delayed keys come due") {
  WorkQueue q;
  auto start = std::chrono::steady_clock::now();
  q.add_after("late", 30ms);
  CHECK(q.get() == "late");
  CHECK(std::chrono::steady_clock::now() - start >= 30ms);
}

TEST_CASE("shutdown releases blocked workers") {
  WorkQueue q;
  std::thread t([&] { CHECK_FALSE(q.get().has_value()); });
  std::this_thread::sleep_for(10ms);
  q.shutdown();
  t.join();
}

TEST_CASE("a stop token releases a blocked worker") {
  WorkQueue q;
  std::stop_source stop;
  std::thread t([&] { CHECK_FALSE(q.get(stop.get_token()).has_value()); });
  std::this_thread::sleep_for(10ms);
  stop.request_stop();
  t.join();
}

TEST_CASE("an earlier delayed key wakes a worker already waiting for a later one") {
  WorkQueue q;
  q.add_after("late", 5s);
  auto start = std::chrono::steady_clock::now();
  std::thread t([&] { CHECK(q.get() == "soon"); });
  std::this_thread::sleep_for(20ms);
  q.add_after("soon", 10ms);
  t.join();
  CHECK(std::chrono::steady_clock::now() - start < 2s);
}

TEST_CASE("many workers and delayed keys together: every key is handed out once per add") {
  WorkQueue q;
  std::atomic<int> handled{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w)
    workers.emplace_back([&] {
      while (auto k = q.get()) {
        ++handled;
        q.done(*k);
      }
    });
  for (int i = 0; i < 2000; ++i) q.add_after("k" + std::to_string(i), std::chrono::milliseconds(i % 7));
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (handled < 2000 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  q.shutdown();
  for (auto& w : workers) w.join();
  CHECK(handled == 2000);
}
