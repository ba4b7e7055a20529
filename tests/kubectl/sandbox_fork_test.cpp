#include <doctest/doctest.h>

#include "core/validation.h"
#include "kubectl/sandbox_fork.h"

using nlohmann::json;
using arl::kubectl::fork_objects;

namespace {

json source() {
  return json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Sandbox",
    "metadata":{"name":"agent","namespace":"team","uid":"u-1","resourceVersion":"7"},
    "spec":{"poolRef":"py","keepAlive":true,"ttlSecondsAfterFinished":600,"workingDir":"repo",
            "env":[{"name":"SEED","value":"4"},{"name":"KEY","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]},
    "status":{"phase":"Ready","podName":"py-a","podIP":"198.18.0.9"}})");
}

}  // namespace

TEST_CASE("forks copy the source's spec, name its checkpoint, and carry nothing of its identity or status") {
  auto forks = fork_objects(source(), "a1b2c3d4", 2, "branch");
  REQUIRE(forks.size() == 2);
  CHECK(forks[0]["metadata"] == json{{"namespace", "team"}, {"name", "branch-0"}});
  CHECK(forks[1]["metadata"]["name"] == "branch-1");
  const json want_spec = json::parse(R"({"poolRef":"py","keepAlive":true,"ttlSecondsAfterFinished":600,"workingDir":"repo",
    "env":[{"name":"SEED","value":"4"},{"name":"KEY","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}],
    "forkOf":{"sandbox":"agent","checkpoint":"a1b2c3d4"}})");
  CHECK(forks[0]["spec"] == want_spec);
  CHECK_FALSE(forks[0].contains("status"));
  for (const auto& f : forks) CHECK(arl::core::validate_object(f).empty());
}

TEST_CASE("without a prefix the server generates the forks' names from the source's") {
  auto forks = fork_objects(source(), "step-3", 3, "");
  REQUIRE(forks.size() == 3);
  for (const auto& f : forks) {
    CHECK(f["metadata"]["generateName"] == "agent-fork-");
    CHECK_FALSE(f["metadata"].contains("name"));
  }
}
