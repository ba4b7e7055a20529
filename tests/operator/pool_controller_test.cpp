#include <doctest/doctest.h>

#include "operator/pod_state.h"
#include "operator_fixture.h"

using namespace arl::op;
using namespace arl::op::testing;

TEST_CASE("a pool of 3 gets 3 injected pods and a token secret") {
  Fixture f;
  f.make_pool("py", 3);
  reconcile_pool(*f.ctx, "default", "py");
  auto pods = f.pods("py");
  REQUIRE(pods.size() == 3);
  const json& pod = pods[0];
  CHECK(pod["metadata"]["labels"]["arl.infra.io/pod-state"] == "ready");
  CHECK(pod["metadata"]["ownerReferences"][0]["kind"] == "WarmPool");
  CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(pod["metadata"]["name"].get<std::string>().rfind("py-", 0) == 0);
  const json& spec = pod["spec"];
  CHECK(spec["initContainers"][0]["name"] == "arl-init");
  CHECK(spec["initContainers"][0]["command"] == json({"/arl", "sidecar", "copy-self", "/arl-bin/arl"}));
  const json& c = spec["containers"][0];
  CHECK(c["image"] == "python:3.12");  // the user's image stays
  CHECK(c["command"] == json({"/arl-bin/arl", "sidecar"}));
  CHECK_FALSE(c.contains("args"));
  CHECK(c["readinessProbe"]["httpGet"]["path"] == "/health");
  CHECK(c["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "arl-pool-py");
  bool workspace = false;
  for (const auto& m : c["volumeMounts"]) workspace |= m["mountPath"] == "/workspace";
  CHECK(workspace);
  auto secret = f.kube.get(res::secrets, "default", "arl-pool-py");
  REQUIRE(secret);
  CHECK((*secret)["stringData"]["token"].get<std::string>().size() == 64);
}

TEST_CASE("scale up and down touches only idle pods") {
  Fixture f;
  f.make_pool("py", 3);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  f.make_sandbox("sb", "py");
  reconcile_sandbox(*f.ctx, "default", "sb");

  f.scale("py", 5);
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.pods("py").size() == 6);  // 5 idle + 1 allocated

  f.scale("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  auto left = f.pods("py");
  CHECK(left.size() == 2);
  int allocated = 0;
  for (const auto& p : left) allocated += p["metadata"]["labels"]["arl.infra.io/pod-state"] == "allocated";
  CHECK(allocated == 1);
  auto pool = f.get(res::warm_pools, "py");
  CHECK(pool["status"]["allocatedReplicas"] == 1);
  CHECK(pool["status"]["replicas"] == 2);
}

TEST_CASE("a failed idle pod is replaced") {
  Fixture f;
  f.make_pool("py", 2);
  reconcile_pool(*f.ctx, "default", "py");
  auto pods = f.pods("py");
  f.kube.patch(res::pods, "default", pods[0]["metadata"]["name"], arl::k8s::PatchType::merge,
               json{{"status", {{"phase", "Failed"}}}}, true);
  reconcile_pool(*f.ctx, "default", "py");
  auto now = f.pods("py");
  CHECK(now.size() == 2);
  for (const auto& p : now) CHECK(p["metadata"]["name"] != pods[0]["metadata"]["name"]);
}

TEST_CASE("pool status reports ready and allocated counts and phase") {
  Fixture f;
  f.make_pool("py", 2);
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.get(res::warm_pools, "py")["status"]["readyReplicas"] == 0);
  f.make_all_ready("py");
  reconcile_pool(*f.ctx, "default", "py");
  auto st = f.get(res::warm_pools, "py")["status"];
  CHECK(st["readyReplicas"] == 2);
  CHECK(st["phase"] == "Ready");
  // nothing changed: no write
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.kube.total_writes() == 0);
}

TEST_CASE("pool status writes are coalesced within the interval") {
  Fixture f;
  f.ctx->config.pool_status_interval = std::chrono::seconds(10);
  f.make_pool("py", 2);
  reconcile_pool(*f.ctx, "default", "py");  // first status write
  f.make_all_ready("py");
  f.kube.reset_counters();
  Result r = reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.kube.writes("patch_status", "warmpools") == 0);
  CHECK(r.requeue_after.count() > 0);
}

TEST_CASE("plan_pool arithmetic") {
  auto pod = [](const std::string& name, const std::string& state, bool ready, const std::string& phase = "Running") {
    json p{{"metadata", {{"name", name}, {"labels", {{"arl.infra.io/pod-state", state}}}, {"creationTimestamp", name}}},
           {"status", {{"phase", phase}}}};
    if (ready) p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}};
    return p;
  };
  std::vector<std::shared_ptr<const json>> pods;
  for (auto p : {pod("a", "ready", true), pod("b", "ready", false), pod("c", "allocated", true), pod("d", "ready", false, "Failed")})
    pods.push_back(std::make_shared<const json>(p));
  PoolPlan p = plan_pool(4, pods);
  CHECK(p.idle == 2);
  CHECK(p.ready == 1);
  CHECK(p.allocated == 1);
  CHECK(p.to_create == 2);
  CHECK(p.to_delete == std::vector<std::string>{"d"});

  PoolPlan down = plan_pool(1, pods);
  CHECK(down.to_create == 0);
  // keeps the ready one, removes the starting one and the failed one
  CHECK(down.to_delete == std::vector<std::string>{"d", "b"});

  PoolPlan zero = plan_pool(0, pods);
  CHECK(zero.to_delete.size() == 3);
}

TEST_CASE("a refused pod create stops the fan-out; a terminating namespace is not retried") {
  Fixture f;
  f.ctx->config.create_parallelism = 1;
  f.make_pool("py", 10);
  int attempts = 0;
  std::string message = "pods \"x\" is forbidden: exceeded quota";
  f.kube.set_hook([&](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
    if (verb == "create" && r.plural == "pods") {
      ++attempts;
      throw arl::Error(arl::ErrorCode::forbidden, message);
    }
  });
  CHECK_THROWS_AS(reconcile_pool(*f.ctx, "default", "py"), arl::Error);
  CHECK(attempts == 1);
  message = "unable to create new content in namespace default because it is being terminated";
  CHECK_NOTHROW(reconcile_pool(*f.ctx, "default", "py"));
  CHECK(attempts == 2);
}
