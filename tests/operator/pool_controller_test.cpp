#include <doctest/doctest.h>

#include <functional>

#include "operator/pod_builder.h"
#include "operator/pod_state.h"
#include "operator/pool_status_plan.h"
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
  // `kubectl get pods -l warmpool=py` (the manuals) finds them as well as the arl.infra.io/ label.
  CHECK(pod["metadata"]["labels"] == json{{"arl.infra.io/warmpool", "py"}, {"arl.infra.io/pod-state", "ready"}, {"warmpool", "py"}});
  CHECK(pod["metadata"]["ownerReferences"][0]["kind"] == "WarmPool");
  CHECK(pod["metadata"]["ownerReferences"][0]["controller"] == true);
  CHECK(pod["metadata"]["name"].get<std::string>().rfind("py-", 0) == 0);
  const json& spec = pod["spec"];
  CHECK(spec["initContainers"][0]["name"] == "arl-init");
  CHECK(spec["initContainers"][0]["command"] == json({"/arl", "sidecar", "copy-self", "/arl-bin/arl"}));
  // What Pod Security "restricted" asks of every container, so compliant templates stay compliant.
  const json& sc = spec["initContainers"][0]["securityContext"];
  CHECK(sc["allowPrivilegeEscalation"] == false);
  CHECK(sc["capabilities"]["drop"] == json({"ALL"}));
  CHECK(sc["runAsNonRoot"] == true);
  CHECK(sc["runAsUser"] == 65532);
  CHECK(sc["seccompProfile"]["type"] == "RuntimeDefault");
  CHECK(sc["readOnlyRootFilesystem"] == true);
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
  CHECK(f.writes().empty());
}

TEST_CASE("pool status writes are coalesced within the interval") {
  Fixture f;
  f.ctx->config.pool_status.interval = std::chrono::seconds(10);
  f.make_pool("py", 2);
  reconcile_pool(*f.ctx, "default", "py");  // first status write
  f.make_all_ready("py");
  f.kube.reset_counters();
  Result r = reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.kube.writes("patch_status", "warmpools") == 0);
  CHECK(r.requeue_after.count() > 0);
}

TEST_CASE("defer_refill: while sandboxes wait, only the pods they lack are created") {
  struct Row {
    const char* name;
    int64_t to_create, idle, waiting;
    int64_t now, deferred;
  };
  const std::vector<Row> rows = {
      {"no queue: the whole refill", 3, 7, 0, 3, 0},
      {"queue served by idle pods: all held back", 3, 7, 5, 0, 3},
      {"queue as long as the idle pods: all held back", 3, 7, 7, 0, 3},
      {"queue longer than the idle pods: the lack now", 3, 7, 9, 2, 1},
      {"lack beyond the refill: the refill, none held", 3, 0, 9, 3, 0},
      {"nothing to create", 0, 10, 4, 0, 0},
  };
  for (const auto& r : rows) {
    INFO(std::string(r.name));
    PoolPlan plan;
    plan.to_create = r.to_create;
    plan.idle = r.idle;
    defer_refill(plan, r.waiting);
    CHECK(plan.to_create == r.now);
    CHECK(plan.deferred == r.deferred);
  }
}

TEST_CASE("a pool with sandboxes waiting holds its refill back until they have pods") {
  Fixture f;
  f.make_pool("py", 3);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  for (const char* sb : {"a", "b"}) f.make_sandbox(sb, "py");
  reconcile_sandbox(*f.ctx, "default", "a");  // one allocated, one still waiting with 2 idle pods
  f.kube.reset_counters();
  Result r = reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.kube.writes("create", "pods") == 0);
  CHECK(r.requeue_after.count() > 0);  // looked at again without a pod event
  CHECK(f.pods("py").size() == 3);

  reconcile_sandbox(*f.ctx, "default", "b");  // the queue drained
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.kube.writes("create", "pods") == 2);
  CHECK(f.pods("py").size() == 5);  // 3 idle again + 2 allocated
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
  // Refused: said in the pool's status (see below), retried later, not thrown.
  CHECK(reconcile_pool(*f.ctx, "default", "py").requeue_after == std::chrono::seconds(10));
  CHECK(attempts == 1);
  message = "unable to create new content in namespace default because it is being terminated";
  CHECK_NOTHROW(reconcile_pool(*f.ctx, "default", "py"));
  CHECK(attempts == 2);
  // Its pools try nothing more for a while (each pod deletion wakes them), and
  // are looked at again when the hold ends.
  f.make_pool("other", 3);
  const Result held = reconcile_pool(*f.ctx, "default", "other");
  CHECK(attempts == 2);
  CHECK(held.requeue_after > std::chrono::seconds(4));
  CHECK(held.requeue_after <= std::chrono::milliseconds(5001));
  auto later = std::chrono::steady_clock::now() + std::chrono::seconds(6);
  f.ctx->steady_now = [later] { return later; };
  message = "pods \"x\" is forbidden: exceeded quota";
  reconcile_pool(*f.ctx, "default", "other");
  CHECK(attempts == 3);  // the hold is over: the namespace was recreated, or its deletion ended
}

// ---- Tables: given this world, exactly these writes.

namespace {

struct PoolRow {
  const char* name;
  std::function<void(Fixture&)> world;
  Writes writes;
};

// Pool py of `replicas` with ready idle pods py-a, py-b, reconciled once.
void warm(Fixture& f, int replicas) {
  f.make_pool("py", replicas);
  f.make_pod("py-a", "py", true);
  f.make_pod("py-b", "py", true);
  reconcile_pool(*f.ctx, "default", "py");
}

}  // namespace

TEST_CASE("pool reconcile: exact writes per world") {
  const std::vector<PoolRow> rows = {
      {"a new pool of 2: its token Secret, 2 pods, its status", [](Fixture& f) { f.make_pool("py", 2); },
       {"create secrets/arl-pool-py", "create pods/py-*", "create pods/py-*", "patch_status warmpools/py"}},
      {"steady: 2 ready idle pods, status current: nothing", [](Fixture& f) { warm(f, 2); }, {}},
      {"an idle pod failed: deleted and replaced",
       [](Fixture& f) {
         warm(f, 2);
         f.set_status(res::pods, "py-a", {{"phase", "Failed"}});
       },
       {"delete pods/py-a", "create pods/py-*", "patch_status warmpools/py"}},
      {"scale-down deletes only idle pods",
       [](Fixture& f) {
         warm(f, 2);
         f.make_pod("py-c", "py", true, "sb");
         reconcile_pool(*f.ctx, "default", "py");
         f.scale("py", 1);
       },
       {"delete pods/py-b", "patch_status warmpools/py"}},
      {"an allocation: the refill pod and the status",
       [](Fixture& f) {
         f.make_pool("py", 1);
         f.make_pod("py-a", "py", true);
         reconcile_pool(*f.ctx, "default", "py");
         f.kube.patch(res::pods, "default", "py-a", arl::k8s::PatchType::merge,
                      json{{"metadata", {{"labels", {{"arl.infra.io/pod-state", "allocated"}, {"arl.infra.io/sandbox", "sb"}}}}}});
       },
       {"create pods/py-*", "patch_status warmpools/py"}},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    Fixture f;
    row.world(f);
    f.kube.reset_counters();
    reconcile_pool(*f.ctx, "default", "py");
    CHECK(f.writes() == row.writes);
  }
}

TEST_CASE("plan_pool_status: counts, phase and the Ready condition") {
  using arl::core::WarmPool;
  const auto t0 = at_rfc3339("2030-01-01T00:00:00Z");
  struct Row {
    int64_t replicas;
    PoolPlan plan;
    int64_t status_replicas;
    std::string phase, ready, reason, message;
  };
  const std::vector<Row> rows = {
      {2, {.to_create = 2}, 2, "Pending", "False", "WarmingUp", "0 of 2 idle pods ready"},
      {2, {.to_create = 0, .ready = 1, .idle = 2, .total = 2}, 2, "Scaling", "False", "WarmingUp", "1 of 2 idle pods ready"},
      {2, {.to_create = 0, .ready = 2, .idle = 2, .allocated = 1, .total = 3}, 3, "Ready", "True", "PoolReady", "2 idle pods ready"},
      {1, {.to_create = 0, .to_delete = {"b"}, .ready = 2, .idle = 2, .total = 2}, 1, "Ready", "True", "PoolReady", "2 idle pods ready"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.message);
    WarmPool pool;
    pool.metadata.generation = 3;
    pool.spec.replicas = row.replicas;
    auto st = plan_pool_status(pool, row.plan, t0);
    CHECK(st.replicas == row.status_replicas);
    CHECK(st.phase == row.phase);
    CHECK(st.observed_generation == 3);
    REQUIRE(st.conditions.size() == 1);
    CHECK(st.conditions[0] == arl::core::Condition{"Ready", row.ready, row.reason, row.message, "2030-01-01T00:00:00Z", 3});
  }
}

TEST_CASE("a pod create refused by admission puts the API server's words in the pool's Ready condition") {
  Fixture f;
  f.make_pool("py", 2);
  const std::string refusal =
      "pods \"py-x\" is forbidden: violates PodSecurity \"restricted:latest\": runAsNonRoot != true";
  f.kube.set_hook([&](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
    if (verb == "create" && r.plural == "pods") throw arl::Error(arl::ErrorCode::forbidden, refusal);
  });
  f.kube.reset_counters();
  auto result = reconcile_pool(*f.ctx, "default", "py");
  CHECK(result.requeue_after == std::chrono::seconds(10));
  CHECK(f.writes() == std::vector<std::string>{"create secrets/arl-pool-py", "create events/py.*", "patch_status warmpools/py"});
  auto pool = arl::core::warm_pool_from_json(*f.kube.get(res::warm_pools, "default", "py"));
  REQUIRE(pool.status.conditions.size() == 1);
  CHECK(pool.status.conditions[0].reason == "PodCreateFailed");
  CHECK(pool.status.conditions[0].message == "creating pool pods: " + refusal);
  CHECK(pool.status.phase == "Pending");
  CHECK(pool.status.replicas == 0);

  f.kube.reset_counters();  // the same refusal again: no new write, no new Event
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.writes().empty());
}

namespace {
json pool_with_template(json spec) {
  return json{{"apiVersion", "arl.infra.io/v1alpha1"},
              {"kind", "WarmPool"},
              {"metadata", {{"name", "py"}, {"namespace", "default"}, {"uid", "u1"}}},
              {"spec", {{"replicas", 1}, {"template", {{"spec", std::move(spec)}}}}}};
}
const json* named(const json& list, const std::string& name) {
  for (const auto& item : list)
    if (item.value("name", "") == name) return &item;
  return nullptr;
}
}  // namespace

TEST_CASE("checkpoints get their own emptyDir on the workdir's medium, and the sidecar is told where") {
  const json container = {{"name", "main"}, {"image", "python:3.12"}};
  SUBCASE("the default workspace: both on the node's disk") {
    json pod = build_pool_pod(pool_with_template({{"containers", {container}}}), {"arl:test", "abcde"});
    const json* v = named(pod["spec"]["volumes"], "arl-checkpoints");
    REQUIRE(v);
    CHECK((*v)["emptyDir"] == json::object());
    const json& c = pod["spec"]["containers"][0];
    CHECK(c["volumeMounts"].back() == json{{"name", "arl-checkpoints"}, {"mountPath", "/arl-checkpoints"}});
    const json* env = named(c["env"], "ARL_SIDECAR_CHECKPOINT_DIR");
    REQUIRE(env);
    CHECK((*env)["value"] == "/arl-checkpoints");
  }
  SUBCASE("a template whose /workspace is in memory: checkpoints in memory too") {
    json c = container;
    c["volumeMounts"] = {{{"name", "scratch"}, {"mountPath", "/workspace"}}};
    json pod = build_pool_pod(
        pool_with_template({{"containers", {c}}, {"volumes", {{{"name", "scratch"}, {"emptyDir", {{"medium", "Memory"}}}}}}}),
        {"arl:test", "abcde"});
    const json* v = named(pod["spec"]["volumes"], "arl-checkpoints");
    REQUIRE(v);
    CHECK((*v)["emptyDir"] == json{{"medium", "Memory"}});
  }
  SUBCASE("a template that chose its own checkpoint dir keeps it") {
    json c = container;
    c["env"] = {{{"name", "ARL_SIDECAR_CHECKPOINT_DIR"}, {"value", "/data/ckpt"}}};
    json pod = build_pool_pod(pool_with_template({{"containers", {c}}}), {"arl:test", "abcde"});
    int dirs = 0;
    for (const auto& e : pod["spec"]["containers"][0]["env"]) dirs += e["name"] == "ARL_SIDECAR_CHECKPOINT_DIR";
    CHECK(dirs == 1);
    CHECK(named(pod["spec"]["containers"][0]["env"], "ARL_SIDECAR_CHECKPOINT_DIR")->at("value") == "/data/ckpt");
  }
}
