#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "mcp/tools.h"

using nlohmann::json;
using arl::mcp::check_arguments;

TEST_CASE("arguments are checked against the tool's schema, every problem at once") {
  const json schema = json::parse(R"({"type":"object","additionalProperties":false,"required":["command"],
      "properties":{"command":{"type":"string"},"timeout_seconds":{"type":"number","minimum":0},
                    "lines":{"type":"integer"},"recursive":{"type":"boolean"},
                    "encoding":{"type":"string","enum":["utf-8","base64"]},
                    "argv":{"type":"array","items":{"type":"string"}},
                    "env":{"type":"object","additionalProperties":{"type":"string"}}}})");
  struct Row {
    const char* args;
    std::vector<std::string> problems;
  };
  for (const auto& row : std::vector<Row>{
           {R"({"command":"ls"})", {}},
           {R"({"command":"ls","timeout_seconds":1.5,"lines":3,"recursive":true,"encoding":"base64",
                "argv":["a"],"env":{"A":"1"}})", {}},
           {R"({})", {"command: required (a string)"}},
           {R"({"command":["ls"]})", {"command: must be a string"}},
           {R"({"command":"ls","timeout_seconds":"5"})", {"timeout_seconds: must be a number"}},
           {R"({"command":"ls","timeout_seconds":-1})", {"timeout_seconds: must be at least 0"}},
           {R"({"command":"ls","lines":1.5})", {"lines: must be an integer"}},
           {R"({"command":"ls","encoding":"hex"})", {R"(encoding: must be one of ["utf-8","base64"])"}},
           {R"({"command":"ls","argv":["a",1]})", {"argv[1]: must be a string"}},
           {R"({"command":"ls","env":{"A":1}})", {"env.A: must be a string"}},
           {R"({"cmd":"ls","recursive":"yes"})",
            {"command: required (a string)",
             "cmd: unknown argument (known: argv, command, encoding, env, lines, recursive, timeout_seconds)",
             "recursive: must be a boolean"}},
       }) {
    CAPTURE(row.args);
    CHECK(check_arguments(schema, json::parse(row.args)) == row.problems);
  }
  CHECK(check_arguments(schema, json::array()) == std::vector<std::string>{"arguments: must be an object"});
  // Without additionalProperties: false, extra arguments pass.
  CHECK(check_arguments(json::parse(R"({"type":"object"})"), json::parse(R"({"x":1})")).empty());
}
