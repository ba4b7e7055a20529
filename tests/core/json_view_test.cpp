#include <doctest/doctest.h>

#include "core/json_view.h"

using nlohmann::json;
using arl::core::object_at;
using arl::core::string_at;

TEST_CASE("object_at reads a member object in place, and an empty object for anything else") {
  const json pod = json::parse(R"({"metadata": {"labels": {"a": "1"}}, "spec": [1], "status": null})");
  const json& meta = object_at(pod, "metadata");
  CHECK(&meta == &pod["metadata"]);  // no copy
  CHECK(object_at(meta, "labels") == json{{"a", "1"}});
  for (const char* key : {"spec", "status", "missing"}) {
    CAPTURE(key);
    CHECK(object_at(pod, key) == json::object());
  }
  CHECK(object_at(json::array({1}), "metadata") == json::object());
  CHECK(object_at(json(), "metadata") == json::object());
}

TEST_CASE("string_at gives a string member, and \"\" for a missing or non-string one") {
  const json labels = json::parse(R"({"state": "ready", "count": 3, "none": null})");
  CHECK(string_at(labels, "state") == "ready");
  CHECK(string_at(labels, "count").empty());
  CHECK(string_at(labels, "none").empty());
  CHECK(string_at(labels, "missing").empty());
  CHECK(string_at(json::array(), "state").empty());
}
