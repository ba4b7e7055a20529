#include <doctest/doctest.h>

#include <thread>

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
