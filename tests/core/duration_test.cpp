#include <doctest/doctest.h>

#include "core/duration.h"
#include "core/error.h"

using namespace arl::core;
using std::chrono::milliseconds;

TEST_CASE("durations parse in Kubernetes syntax") {
  CHECK(parse_duration("30s", "spec.timeout") == milliseconds(30'000));
  CHECK(parse_duration("2m", "spec.timeout") == milliseconds(120'000));
  CHECK(parse_duration("1h30m", "spec.timeout") == milliseconds(5'400'000));
  CHECK(parse_duration("250ms", "spec.timeout") == milliseconds(250));
  CHECK(parse_duration("1.5s", "spec.timeout") == milliseconds(1500));
}

TEST_CASE("bad durations name the field") {
  for (const char* bad : {"", "30", "3x", "s", "1..5s", "-1s", "1h 30m"}) {
    CAPTURE(bad);
    CHECK_FALSE(is_valid_duration(bad));
    try {
      parse_duration(bad, "spec.timeout");
      FAIL("accepted");
    } catch (const arl::Error& e) {
      CHECK(e.code() == arl::ErrorCode::invalid);
      CHECK(std::string(e.what()).find("spec.timeout") == 0);
    }
  }
  CHECK_THROWS_AS(parse_duration("0s", "x"), arl::Error);
}

TEST_CASE("durations and ages format as kubectl prints them") {
  CHECK(format_duration(milliseconds(90'000)) == "1m30s");
  CHECK(format_duration(milliseconds(250)) == "250ms");
  CHECK(format_duration(milliseconds(1500)) == "1.5s");
  CHECK(format_duration(milliseconds(3'600'000)) == "1h");
  CHECK(format_age(std::chrono::seconds(5)) == "5s");
  CHECK(format_age(std::chrono::seconds(150)) == "2m30s");
  CHECK(format_age(std::chrono::seconds(60 * 30)) == "30m");
  CHECK(format_age(std::chrono::seconds(3600 * 2 + 60 * 5)) == "125m");
  CHECK(format_age(std::chrono::seconds(3600 * 5 + 60 * 5)) == "5h5m");
  CHECK(format_age(std::chrono::seconds(3600 * 30)) == "30h");
  CHECK(format_age(std::chrono::seconds(86400 * 3)) == "3d");
}
