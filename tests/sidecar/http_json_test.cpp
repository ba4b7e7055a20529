#include <doctest/doctest.h>

#include <string>

#include "core/error.h"
#include "sidecar/http_json.h"

using namespace arl;
using namespace arl::sidecar;

TEST_CASE("request JSON: out-of-range numbers are the client's error, named by field") {
  CHECK_THROWS_WITH_AS(parse_request<core::ExecuteRequest>(R"({"command":["true"],"timeout_seconds":1e999})"),
                       "timeout_seconds: number 1e999 is out of range", Error);
  CHECK_THROWS_WITH_AS(parse_request_json(R"({"env":{"A":-1e400}})"), "env.A: number -1e400 is out of range", Error);
  CHECK_THROWS_WITH_AS(parse_request_json(R"({"command":["a",1e999]})"), "command[1]: number 1e999 is out of range",
                       Error);
  try {
    parse_request_json(R"({"timeout_seconds":1e999})");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid);
  }
}

TEST_CASE("request JSON: malformed or non-object bodies keep the protocol's messages") {
  CHECK_THROWS_WITH_AS(parse_request_json("{oops"), "body: invalid JSON at byte 2: send a JSON object", Error);
  CHECK_THROWS_WITH_AS(parse_request_json("[1]"), "body: must be a JSON object, got array", Error);
  CHECK(parse_request_json("  \n").empty());
  auto r = parse_request<core::ExecuteRequest>(R"({"command":["echo","hi"],"env":{"A":"1"}})");
  CHECK(r.command == std::vector<std::string>{"echo", "hi"});
  CHECK(r.env.at("A") == "1");
}

TEST_CASE("request JSON: argument count, argument bytes and depth are capped while parsing") {
  std::string many = R"({"command":[)";
  for (size_t i = 0; i <= kMaxJsonElements; ++i) many += i ? ",\"a\"" : "\"a\"";
  many += "]}";
  CHECK_THROWS_WITH_AS(parse_request_json(many), "command: more than 262144 arguments", Error);

  std::string big = R"({"command":["true"],"env":{)";
  const std::string value(1 << 20, 'v');
  for (int i = 0; i < 17; ++i) big += (i ? ",\"K" : "\"K") + std::to_string(i) + "\":\"" + value + "\"";
  big += "}}";
  CHECK_THROWS_WITH_AS(parse_request_json(big), "env: command and env strings larger than 16 MiB in total", Error);

  // File content is not an argument: only the body limit applies to it.
  CHECK(parse_request_json(R"({"content":")" + std::string(20 << 20, 'x') + "\"}").size() == 1);

  CHECK_THROWS_WITH_AS(parse_request_json(R"({"a":)" + std::string(70, '[') + std::string(70, ']') + "}"),
                       "body: JSON nested deeper than 64 levels", Error);
}
