#include <doctest/doctest.h>

#include <vector>

#include "k8s/watch_decoder.h"

using arl::k8s::LineSplitter;

TEST_CASE("lines split across chunks are joined") {
  LineSplitter s;
  std::vector<std::string> got;
  auto collect = [&](std::string_view l) {
    got.emplace_back(l);
    return true;
  };
  std::string stream = "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"DELETED\"}\n\n{\"type\":\"BOOKMARK\"}\n";
  // Every split point of the stream gives the same lines.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    got.clear();
    LineSplitter sp;
    sp.feed(std::string_view(stream).substr(0, cut), collect);
    sp.feed(std::string_view(stream).substr(cut), collect);
    REQUIRE(got.size() == 3);
    CHECK(got[0] == "{\"type\":\"ADDED\",\"object\":{}}");
    CHECK(got[1] == "{\"type\":\"DELETED\"}");
    CHECK(got[2] == "{\"type\":\"BOOKMARK\"}");
    CHECK(sp.pending().empty());
  }
  // Byte by byte, with a trailing partial line kept.
  got.clear();
  for (char c : std::string("ab\ncd\nef")) s.feed(std::string_view(&c, 1), collect);
  CHECK(got == std::vector<std::string>{"ab", "cd"});
  CHECK(s.pending() == "ef");
}

TEST_CASE("a consumer can stop mid-chunk") {
  LineSplitter s;
  int n = 0;
  CHECK_FALSE(s.feed("a\nb\nc\n", [&](std::string_view) { return ++n < 2; }));
  CHECK(n == 2);
}
