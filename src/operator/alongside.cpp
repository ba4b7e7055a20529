#include "operator/alongside.h"

#include <future>

namespace arl::op {

Alongside threaded_alongside() {
  return [](std::function<void()> f) {
    std::shared_future<void> done = std::async(std::launch::async, std::move(f)).share();
    return std::function<void()>([done] { done.get(); });
  };
}

Alongside inline_alongside() {
  return [](std::function<void()> f) {
    f();
    return std::function<void()>([] {});
  };
}

}  // namespace arl::op
