#include <doctest/doctest.h>

#include "core/error.h"
#include "core/fork_spec.h"
#include "core/validation.h"

using namespace arl::core;
using nlohmann::json;

namespace {

json sandbox_with_fork(const json& fork_of) {
  return json{{"apiVersion", "arl.infra.io/v1alpha1"},
              {"kind", "Sandbox"},
              {"metadata", {{"name", "child"}}},
              {"spec", {{"poolRef", "p"}, {"forkOf", fork_of}}}};
}

}  // namespace

TEST_CASE("forkOf is read from the sandbox's spec") {
  CHECK_FALSE(fork_of_from_json(json{{"spec", {{"poolRef", "p"}}}}).has_value());
  CHECK(fork_of_from_json(sandbox_with_fork({{"sandbox", "src"}})) == ForkOf{"src", ""});
  CHECK(fork_of_from_json(sandbox_with_fork({{"sandbox", "src"}, {"checkpoint", "step-3"}})) == ForkOf{"src", "step-3"});
  CHECK(to_json(ForkOf{"src", ""}) == json{{"sandbox", "src"}});
  CHECK(to_json(ForkOf{"src", "a1b2c3d4"}) == json{{"sandbox", "src"}, {"checkpoint", "a1b2c3d4"}});
  CHECK_THROWS_AS(fork_of_from_json(sandbox_with_fork({{"sandbox", 3}})), arl::Error);
}

TEST_CASE("forkOf rules, one failing case each") {
  struct Row {
    json fork_of;
    std::string path;  // "" = valid
    std::string text;
  };
  const Row rows[] = {
      {{{"sandbox", "src"}}, "", ""},
      {{{"sandbox", "src"}, {"checkpoint", "a1b2c3d4"}}, "", ""},
      {{{"sandbox", "src"}, {"checkpoint", "step-3.v_2"}}, "", ""},
      {json::object(), "spec.forkOf.sandbox", "required"},
      {{{"sandbox", "Not_A_Name"}}, "spec.forkOf.sandbox", "not a valid Sandbox name"},
      {{{"sandbox", "child"}}, "spec.forkOf.sandbox", "cannot fork itself"},
      {{{"sandbox", "src"}, {"checkpoint", "-x"}}, "spec.forkOf.checkpoint", "not a checkpoint id or name"},
      {{{"sandbox", "src"}, {"checkpoint", "a/b"}}, "spec.forkOf.checkpoint", "not a checkpoint id or name"},
      {{{"sandbox", "src"}, {"checkpoint", ".."}}, "spec.forkOf.checkpoint", "not a checkpoint id or name"},
      {{{"sandbox", "src"}, {"checkpoint", std::string(64, 'a')}}, "spec.forkOf.checkpoint", "not a checkpoint id or name"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.fork_of.dump());
    auto errs = validate_object(sandbox_with_fork(r.fork_of));
    if (r.path.empty()) {
      CHECK(errs.empty());
      continue;
    }
    REQUIRE(errs.size() == 1);
    CHECK(errs[0].path == r.path);
    CHECK(errs[0].message.find(r.text) != std::string::npos);
  }
}
