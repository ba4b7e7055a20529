// The allocation's claim and a run's Bound write go out beside the caller.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "operator/alongside.h"

using namespace arl::op;

TEST_CASE("threaded_alongside runs on another thread, and its wait may be called twice") {
  std::atomic<bool> ran{false};
  std::thread::id where;
  auto wait = threaded_alongside()([&] {
    where = std::this_thread::get_id();
    ran = true;
  });
  wait();
  CHECK(ran);
  CHECK(where != std::this_thread::get_id());
  wait();  // a run's error path waits again after its success path did
}

TEST_CASE("inline_alongside has run by the time it returns") {
  bool ran = false;
  auto wait = inline_alongside()([&] { ran = true; });
  CHECK(ran);
  wait();
}
