// Deleting a pool (docs/design.md): its allocated sandboxes keep working, on
// the token Secret the pool leaves behind, until they are released or deleted;
// the Secret goes once nothing needs it.
#include <doctest/doctest.h>

#include "operator/pod_builder.h"
#include "operator/pool_secret_plan.h"
#include "k8s/sandbox_token.h"
#include "operator_fixture.h"

using namespace arl::op;
using namespace arl::op::testing;

namespace {

Cache::Obj sandbox(const std::string& pool, const std::string& phase, const std::string& pod, bool terminating = false) {
  json s{{"metadata", {{"name", "s"}}}, {"spec", {{"poolRef", pool}}}, {"status", {{"phase", phase}, {"podName", pod}}}};
  if (terminating) s["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z";
  return std::make_shared<const json>(std::move(s));
}

json one_step() { return json::parse(R"([{"name":"a","type":"Command","command":["true"]}])"); }

}  // namespace

TEST_CASE("pool_token_in_use: only sandboxes of the pool that still hold a pod need its token") {
  struct Row {
    const char* name;
    std::vector<Cache::Obj> sandboxes;
    bool in_use;
  };
  const std::vector<Row> rows = {
      {"no sandbox", {}, false},
      {"a Ready sandbox of the pool", {sandbox("py", "Ready", "py-a")}, true},
      {"a Bound sandbox of the pool", {sandbox("py", "Bound", "py-a")}, true},
      {"a Ready sandbox of another pool", {sandbox("other", "Ready", "other-a")}, false},
      {"Pending: no pod yet", {sandbox("py", "Pending", "")}, false},
      {"Released: its pod is deleted", {sandbox("py", "Released", "py-a")}, false},
      {"Failed: its pod is lost", {sandbox("py", "Failed", "py-a")}, false},
      {"being deleted", {sandbox("py", "Ready", "py-a", true)}, false},
      {"one of several still Ready", {sandbox("py", "Released", "py-a"), sandbox("py", "Ready", "py-b")}, true},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    CHECK(pool_token_in_use("py", row.sandboxes) == row.in_use);
  }
}

TEST_CASE("a pool's token Secret is not owned by the pool, so the garbage collector leaves it") {
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  auto secret = f.kube.get(res::secrets, "default", "arl-pool-py").value();
  CHECK_FALSE(secret["metadata"].contains("ownerReferences"));
  CHECK(secret["metadata"]["labels"]["arl.infra.io/warmpool"] == "py");
}

TEST_CASE("a deleted pool's sandbox runs tasks on the token left behind; the Secret goes with the last sandbox") {
  Fixture f;
  f.allocate_sandbox();
  const std::string token = f.get(res::secrets, "arl-pool-py")["stringData"]["token"];
  f.kube.remove(res::warm_pools, "default", "py");

  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.writes() == Writes{});  // sb still holds its pod

  // A fresh operator (no token in memory) reads it from the Secret.
  f.ctx->tokens.forget("default/py");
  f.make_task("t", "sb", one_step());
  reconcile_task(*f.ctx, "default", "t");
  CHECK(f.get(res::tasks, "t")["status"]["state"] == "Succeeded");
  CHECK(f.last_token == arl::k8s::sandbox_token(token, f.get(res::sandboxes, "sb")["metadata"]["uid"].get<std::string>()));

  f.kube.remove(res::sandboxes, "default", "sb");
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.writes() == Writes{"delete secrets/arl-pool-py"});
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");  // a later pod event of the gone pool
  CHECK(f.writes() == Writes{});
}

TEST_CASE("a task on a sandbox whose pool and token are both gone fails saying so, and the sandbox is not left Bound") {
  Fixture f;
  f.allocate_sandbox();
  f.kube.remove(res::warm_pools, "default", "py");
  f.kube.remove(res::secrets, "default", "arl-pool-py");
  f.ctx->tokens.forget("default/py");
  f.make_task("t", "sb", one_step());
  f.kube.reset_counters();
  reconcile_task(*f.ctx, "default", "t");
  CHECK(f.writes() == Writes{"patch_status tasks/t"});
  auto st = f.get(res::tasks, "t")["status"];
  CHECK(st["reason"] == "ExecutionError");
  CHECK(st["message"] ==
        "sandbox \"sb\": warmpool \"py\" is gone and so is its token, secrets \"arl-pool-py\" in namespace default: "
        "the sidecar cannot be called; delete the sandbox and create one on a live pool");
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");
}

TEST_CASE("a Secret made by an older operator loses its pool owner once, then is read from memory") {
  Fixture f;
  json pool = f.make_pool("py", 0);
  f.kube.create(res::secrets, "default",
                json{{"metadata", {{"name", "arl-pool-py"}, {"ownerReferences", json::array({controller_ref(pool)})}}},
                     {"stringData", {{"token", "abc"}}}});
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.writes() == Writes{"patch secrets/arl-pool-py", "patch_status warmpools/py"});
  CHECK_FALSE(f.get(res::secrets, "arl-pool-py")["metadata"].contains("ownerReferences"));
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.writes() == Writes{});
}

TEST_CASE("a Secret of that name the operator did not make (no pool label) is never deleted") {
  Fixture f;
  f.kube.create(res::secrets, "default", json{{"metadata", {{"name", "arl-pool-p"}}}, {"stringData", {{"token", "mine"}}}});
  f.make_pod("p-aaaaa", "p", true);  // labelled with a pool that does not exist
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "p");
  CHECK(f.writes() == Writes{});
  CHECK(f.kube.get(res::secrets, "default", "arl-pool-p"));
}
