#include <doctest/doctest.h>

#include "localnode/log_server.h"

using namespace arl::localnode;

TEST_CASE("select_log: tailLines and limitBytes as a kubelet applies them") {
  struct Row {
    const char* content;
    std::optional<long> tail, limit;
    const char* want;
  };
  const Row rows[] = {
      {"a\nb\nc\n", std::nullopt, std::nullopt, "a\nb\nc\n"},
      {"a\nb\nc\n", 2, std::nullopt, "b\nc\n"},
      {"a\nb\nc\n", 1, std::nullopt, "c\n"},
      {"a\nb\nc\n", 0, std::nullopt, ""},
      {"a\nb\nc\n", 5, std::nullopt, "a\nb\nc\n"},
      {"a\nb\nc", 1, std::nullopt, "c"},  // no final newline: still a line
      {"a\nb\nc", 2, std::nullopt, "b\nc"},
      {"", 3, std::nullopt, ""},
      {"hello\nworld\n", std::nullopt, 3, "hel"},
      {"hello\nworld\n", 1, 3, "wor"},  // tail first, then the byte limit
      {"hello\n", std::nullopt, 0, ""},
      {"a\nb\n", -1, std::nullopt, "a\nb\n"},  // negative: everything, as the kubelet treats -1
  };
  for (const auto& r : rows) {
    CAPTURE(r.content);
    CAPTURE(r.tail.value_or(-99));
    CAPTURE(r.limit.value_or(-99));
    CHECK(select_log(r.content, r.tail, r.limit) == r.want);
  }
}
