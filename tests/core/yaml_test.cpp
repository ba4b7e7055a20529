#include <doctest/doctest.h>

#include "core/error.h"
#include "core/yaml.h"

using namespace arl::core;

TEST_CASE("multi-document YAML with line numbers") {
  auto docs = parse_yaml_documents("a: 1\n---\n# only a comment\n---\nb: [x, \"2\", 3.5, true, null]\n");
  REQUIRE(docs.size() == 2);
  CHECK(docs[0].value["a"] == 1);
  CHECK(docs[0].line == 1);
  CHECK(docs[1].line == 5);
  CHECK(docs[1].value["b"][0] == "x");
  CHECK(docs[1].value["b"][1] == "2");  // quoted stays a string
  CHECK(docs[1].value["b"][2] == 3.5);
  CHECK(docs[1].value["b"][3] == true);
  CHECK(docs[1].value["b"][4].is_null());
}

TEST_CASE("parse errors carry source, line and column") {
  try {
    parse_yaml_documents("a: 1\nb: [unclosed\nc: 2\n", "task.yaml");
    FAIL("accepted");
  } catch (const arl::Error& e) {
    std::string m = e.what();
    CHECK(m.rfind("task.yaml:", 0) == 0);
    CHECK(e.code() == arl::ErrorCode::invalid);
  }
}

TEST_CASE("to_yaml reads back to the same JSON") {
  nlohmann::json v = nlohmann::json::parse(R"({"s":"text","n":"8080","b":"true","e":"","m":"line1\nline2\n",
      "i":7,"f":1.5,"t":false,"z":null,"l":[1,{"k":"v"}]})");
  auto docs = parse_yaml_documents(to_yaml(v));
  REQUIRE(docs.size() == 1);
  CHECK(docs[0].value == v);
}
