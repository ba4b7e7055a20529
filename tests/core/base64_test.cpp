#include <doctest/doctest.h>

#include "core/base64.h"
#include "core/error.h"

using namespace arl::core;

TEST_CASE("base64: both alphabets, and errors name the field") {
  CHECK(base64_decode(base64_encode("\xfb\xff"), "x") == "\xfb\xff");
  CHECK(base64_decode("-_8", "x") == base64_decode("+/8", "x"));
  for (const char* bad : {"aGk=x", "a", "a*b"}) {
    CAPTURE(bad);
    try {
      base64_decode(bad, "content");
      FAIL("accepted");
    } catch (const arl::Error& e) {
      CHECK(std::string(e.what()).rfind("content: ", 0) == 0);
    }
  }
}

TEST_CASE("base64 round-trips binary data of every padding length") {
  for (std::string s : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                        std::string("\0\xff\x10 binary\n", 11)}) {
    CAPTURE(s.size());
    CHECK(base64_decode(base64_encode(s), "x") == s);
  }
  CHECK(base64_encode("hello") == "aGVsbG8=");
}
