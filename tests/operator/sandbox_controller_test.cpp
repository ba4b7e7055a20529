#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "k8s/sandbox_token.h"
#include "operator/task_plan.h"
#include "operator_fixture.h"

using namespace arl::op;
using namespace arl::op::testing;

TEST_CASE("a sandbox gets an idle ready pod in at most two writes") {
  Fixture f;
  f.make_pool("py", 2);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  f.make_sandbox("sb", "py");
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  auto sb = f.get(res::sandboxes, "sb");
  CHECK(sb["status"]["phase"] == "Ready");
  CHECK(sb["status"]["workDir"] == "/workspace");
  CHECK(sb["status"]["podIP"].get<std::string>().rfind("198.18.0.", 0) == 0);
  auto pod = f.get(res::pods, sb["status"]["podName"]);
  CHECK(pod["metadata"]["labels"]["arl.infra.io/pod-state"] == "allocated");
  CHECK(pod["metadata"]["labels"]["arl.infra.io/sandbox"] == "sb");
  CHECK(pod["metadata"]["ownerReferences"][0]["kind"] == "Sandbox");
  // exactly the pod's claim and the sandbox's status: no Event, no refill inline
  CHECK(f.writes() == Writes{"patch pods/" + sb["status"]["podName"].get<std::string>(), "patch_status sandboxes/sb"});
  // the refill is asked for, not done inline
  CHECK(std::find(f.enqueued.begin(), f.enqueued.end(), "pool:default/py") != f.enqueued.end());

  // refill + pool status: the other two writes of the allocation
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.writes() == Writes{"create pods/py-*", "patch_status warmpools/py"});
}

TEST_CASE("sandboxes never share a pod, even across two operators with stale caches") {
  Fixture f;
  f.make_pool("py", 4);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");

  // Both operators see the same snapshot of pods: the second one tries
  // pods the first one allocated, and meets their bound sidecars.
  struct SnapshotCache : PassThroughCache {
    using PassThroughCache::PassThroughCache;
    std::vector<Obj> pods;
    std::vector<Obj> list(const arl::k8s::Resource& r, const std::string& ns, const std::string& k, const std::string& v) override {
      if (r.plural == "pods" && k == "arl.infra.io/pod-state") return pods;
      return PassThroughCache::list(r, ns, k, v);
    }
  };
  SnapshotCache a(f.kube), b(f.kube);
  for (const auto& p : f.pods("py")) a.pods.push_back(std::make_shared<const json>(p));
  b.pods = a.pods;
  Context ca{f.kube, a, {}, f.ctx->runners, f.metrics, f.events, f.ctx->enqueue};
  Context cb{f.kube, b, {}, f.ctx->runners, f.metrics, f.events, f.ctx->enqueue};
  // As a sidecar does: bound once, to one sandbox's token; another's gets 409.
  std::map<std::string, std::string> bound_to;
  ca.bind = cb.bind = [&](const std::string& ip, const std::string&, const std::string& own, const SandboxSettings&) {
    auto [it, fresh] = bound_to.emplace(ip, own);
    if (!fresh && it->second != own) throw arl::Error(arl::ErrorCode::conflict, "bound to another sandbox");
  };
  for (int i = 0; i < 4; ++i) f.make_sandbox("sb" + std::to_string(i), "py");
  reconcile_sandbox(ca, "default", "sb0");
  reconcile_sandbox(cb, "default", "sb1");
  reconcile_sandbox(ca, "default", "sb2");
  reconcile_sandbox(cb, "default", "sb3");
  std::set<std::string> pods;
  for (int i = 0; i < 4; ++i) {
    auto sb = f.get(res::sandboxes, "sb" + std::to_string(i));
    CHECK(sb["status"]["phase"] == "Ready");
    pods.insert(sb["status"]["podName"].get<std::string>());
  }
  CHECK(pods.size() == 4);
  CHECK(f.metrics.counter("arl_allocation_conflicts_total") >= 1);
}

TEST_CASE("no idle pod: Pending with a condition, then Ready when one appears") {
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");  // pod exists but is not ready
  f.make_sandbox("sb", "py");
  reconcile_sandbox(*f.ctx, "default", "sb");
  auto sb = f.get(res::sandboxes, "sb");
  CHECK(sb["status"]["phase"] == "Pending");
  CHECK(sb["status"]["conditions"][0]["reason"] == "NoIdlePod");
  f.make_all_ready("py");
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");
}

TEST_CASE("a sandbox on a missing pool waits with PoolNotFound") {
  Fixture f;
  f.make_sandbox("sb", "nope");
  Result r = reconcile_sandbox(*f.ctx, "default", "sb");
  auto sb = f.get(res::sandboxes, "sb");
  CHECK(sb["status"]["phase"] == "Pending");
  CHECK(sb["status"]["conditions"][0]["reason"] == "PoolNotFound");
  CHECK(r.requeue_after.count() > 0);
  // a second pass writes nothing new
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes().empty());
}

TEST_CASE("after a restart, a pod already labelled for the sandbox is adopted, not a second one") {
  Fixture f;
  f.make_pool("py", 2);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  f.make_sandbox("sb", "py");
  auto pod = f.pods("py")[1];
  std::string name = pod["metadata"]["name"];
  f.kube.patch(res::pods, "default", name, arl::k8s::PatchType::merge,
               json{{"metadata", {{"labels", {{"arl.infra.io/pod-state", "allocated"}, {"arl.infra.io/sandbox", "sb"}}}}}});
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.get(res::sandboxes, "sb")["status"]["podName"] == name);
  CHECK(f.kube.writes("patch", "pods") == 0);
}

TEST_CASE("a lost pod fails the sandbox") {
  Fixture f;
  std::string pod = f.allocate_sandbox();
  f.kube.remove(res::pods, "default", pod);
  reconcile_sandbox(*f.ctx, "default", "sb");
  auto sb = f.get(res::sandboxes, "sb");
  CHECK(sb["status"]["phase"] == "Failed");
  CHECK(sb["status"]["conditions"][0]["reason"] == "PodLost");
}

TEST_CASE("a released sandbox loses its pod") {
  Fixture f;
  std::string pod = f.allocate_sandbox();
  REQUIRE_FALSE(pod.empty());
  f.set_status(res::sandboxes, "sb", {{"phase", "Released"}});
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK_FALSE(f.kube.get(res::pods, "default", pod));
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Released");  // not turned into Failed by the pod's absence
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes().empty());
}

TEST_CASE("deleting a sandbox deletes its pod at once") {
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  f.make_sandbox("sb", "py");
  reconcile_sandbox(*f.ctx, "default", "sb");
  auto sb = f.get(res::sandboxes, "sb");
  f.kube.remove(res::sandboxes, "default", "sb");
  on_sandbox_deleted(*f.ctx, sb);
  CHECK_FALSE(f.kube.get(res::pods, "default", sb["status"]["podName"].get<std::string>()));
}

TEST_CASE("idle TTL deletes the sandbox") {
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  f.kube.create(res::sandboxes, "default",
                json{{"apiVersion", "arl.infra.io/v1alpha1"},
                     {"kind", "Sandbox"},
                     {"metadata", {{"name", "sb"}, {"namespace", "default"}}},
                     {"spec", {{"poolRef", "py"}, {"keepAlive", true}, {"ttlSecondsAfterFinished", 0}}}});
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK_FALSE(f.kube.get(res::sandboxes, "default", "sb"));
}

// ---- Tables: given this world and this time, exactly these writes.

namespace {

const arl::core::TimePoint T0 = at_rfc3339("2030-01-01T00:00:00Z");

json sandbox_with(Fixture& f, json spec_extra) {
  // As the pool's reconcile leaves it: the token in memory, so the
  // allocation reads no Secret.
  f.ctx->tokens.put("default/py", "pool-token-0123456789");
  json spec{{"poolRef", "py"}, {"keepAlive", true}};
  spec.update(spec_extra);
  return f.kube.create(res::sandboxes, "default",
                       json{{"metadata", {{"name", "sb"}, {"namespace", "default"}}}, {"spec", spec}});
}

// A pool with one idle ready pod py-a, and sandbox sb allocated to it at T0.
void allocated(Fixture& f, json spec_extra = json::object()) {
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", true);
  sandbox_with(f, spec_extra);
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.get(res::sandboxes, "sb")["status"]["podName"] == "py-a");
}

struct SandboxRow {
  const char* name;
  std::function<void(Fixture&)> world;
  std::chrono::milliseconds after_t0;
  Writes writes;
  std::chrono::milliseconds requeue;
};

}  // namespace

TEST_CASE("sandbox reconcile: exact writes per world") {
  using std::chrono::milliseconds;
  const std::vector<SandboxRow> rows = {
      {"pending: claims the oldest idle ready pod, then writes its status",
       [](Fixture& f) {
         f.make_pool("py", 2);
         f.make_pod("py-a", "py", true);
         f.make_pod("py-b", "py", true);
         sandbox_with(f, json::object());
       },
       milliseconds(0), {"patch pods/py-a", "patch_status sandboxes/sb"}, milliseconds(0)},
      {"pending: a pod whose sidecar another operator bound (409) is skipped, untouched, for the next",
       [](Fixture& f) {
         f.make_pool("py", 2);
         f.make_pod("py-a", "py", true);
         f.make_pod("py-b", "py", true);
         sandbox_with(f, json::object());
         int binds = 0;
         f.ctx->bind = [binds](const std::string&, const std::string&, const std::string&, const SandboxSettings&) mutable {
           if (binds++ == 0) throw arl::Error(arl::ErrorCode::conflict, "bound to another sandbox");
         };
       },
       milliseconds(0), {"patch pods/py-b", "patch_status sandboxes/sb"}, milliseconds(0)},
      {"pending: a claim refused after the status went out: the status is taken back, the pod deleted, retried at once",
       [](Fixture& f) {
         f.make_pool("py", 2);
         f.make_pod("py-a", "py", true);
         f.make_pod("py-b", "py", true);
         sandbox_with(f, json::object());
         f.kube.set_hook([](const std::string& verb, const arl::k8s::Resource&, const std::string&, const std::string& name) {
           if (verb == "patch" && name == "py-a") throw arl::Error(arl::ErrorCode::not_found, "pods \"py-a\" not found");
         });
       },
       milliseconds(0), {"patch_status sandboxes/sb", "patch_status sandboxes/sb", "delete pods/py-a"}, milliseconds(1)},
      {"pending: only a starting pod: waits with NoIdlePod and an Event",
       [](Fixture& f) {
         f.make_pool("py", 1);
         f.make_pod("py-a", "py", false);
         sandbox_with(f, json::object());
       },
       milliseconds(0), {"patch_status sandboxes/sb", "create events/sb.*"}, milliseconds(2000)},
      {"pending: the same wait again writes nothing",
       [](Fixture& f) {
         f.make_pool("py", 1);
         sandbox_with(f, json::object());
         reconcile_sandbox(*f.ctx, "default", "sb");
       },
       milliseconds(1000), {}, milliseconds(2000)},
      {"pending: a missing pool waits with PoolNotFound and an Event", [](Fixture& f) { sandbox_with(f, json::object()); },
       milliseconds(0), {"patch_status sandboxes/sb", "create events/sb.*"}, milliseconds(5000)},
      {"pending: after a restart, the pod already labelled for it is adopted",
       [](Fixture& f) {
         f.make_pool("py", 1);
         f.make_pod("py-a", "py", true);
         f.make_pod("py-b", "py", true, "sb");
         sandbox_with(f, json::object());
       },
       milliseconds(0), {"patch_status sandboxes/sb"}, milliseconds(0)},
      {"pending with TTL 0: allocated, then deleted at once",
       [](Fixture& f) {
         f.make_pool("py", 1);
         f.make_pod("py-a", "py", true);
         sandbox_with(f, {{"ttlSecondsAfterFinished", 0}});
       },
       milliseconds(0), {"patch pods/py-a", "patch_status sandboxes/sb", "delete sandboxes/sb"}, milliseconds(0)},
      {"ready on a healthy pod: nothing to write", [](Fixture& f) { allocated(f); }, milliseconds(5000), {}, milliseconds(0)},
      {"ready, its pod gone: Failed with PodLost and a Warning",
       [](Fixture& f) {
         allocated(f);
         f.kube.remove(res::pods, "default", "py-a");
       },
       milliseconds(0), {"patch_status sandboxes/sb", "create events/sb.*"}, milliseconds(0)},
      {"ready, its pod failed: Failed with PodLost",
       [](Fixture& f) {
         allocated(f);
         f.set_status(res::pods, "py-a", {{"phase", "Failed"}});
       },
       milliseconds(0), {"patch_status sandboxes/sb", "create events/sb.*"}, milliseconds(0)},
      {"bound, TTL 1 s long passed: a running task is not idle",
       [](Fixture& f) {
         allocated(f, {{"ttlSecondsAfterFinished", 1}});
         f.set_status(res::sandboxes, "sb", {{"phase", "Bound"}});
         f.make_task("t", "sb", json::array());
         f.set_status(res::tasks, "t", {{"state", "Running"}});
       },
       milliseconds(60000), {}, milliseconds(0)},
      {"bound while its task executes in this process: unchanged",
       [](Fixture& f) {
         allocated(f);
         f.set_status(res::sandboxes, "sb", {{"phase", "Bound"}});
         f.ctx->busy_sandboxes.insert("default/sb");
       },
       milliseconds(1000), {}, milliseconds(0)},
      {"bound with no run anywhere (its operator died after the task's outcome write): Ready again",
       [](Fixture& f) {
         allocated(f);
         f.set_status(res::sandboxes, "sb", {{"phase", "Bound"}});
         f.make_task("t", "sb", json::array());
         f.set_status(res::tasks, "t", {{"state", "Succeeded"}});
       },
       milliseconds(1000), {"patch_status sandboxes/sb"}, milliseconds(0)},
      {"bound, keepAlive=false, no run anywhere: Released and its pod deleted",
       [](Fixture& f) {
         allocated(f, {{"keepAlive", false}});
         f.set_status(res::sandboxes, "sb", {{"phase", "Bound"}});
       },
       milliseconds(1000), {"delete pods/py-a", "patch_status sandboxes/sb"}, milliseconds(0)},
      {"released: its pod is deleted, never returned to the pool",
       [](Fixture& f) {
         allocated(f);
         f.set_status(res::sandboxes, "sb", {{"phase", "Released"}});
       },
       milliseconds(0), {"delete pods/py-a"}, milliseconds(0)},
      {"released, pod already gone: nothing to write",
       [](Fixture& f) {
         allocated(f);
         f.set_status(res::sandboxes, "sb", {{"phase", "Released"}});
         f.kube.remove(res::pods, "default", "py-a");
       },
       milliseconds(0), {}, milliseconds(0)},
      {"ready, idle TTL 60 s not yet passed: no write, requeue at the deadline",
       [](Fixture& f) { allocated(f, {{"ttlSecondsAfterFinished", 60}}); }, milliseconds(59500), {}, milliseconds(550)},
      {"ready, idle TTL 60 s passed: the sandbox is deleted",
       [](Fixture& f) { allocated(f, {{"ttlSecondsAfterFinished", 60}}); }, milliseconds(60000), {"delete sandboxes/sb"},
       milliseconds(0)},
      {"ready, idle TTL counts from the last activity",
       [](Fixture& f) {
         allocated(f, {{"ttlSecondsAfterFinished", 60}});
         f.set_status(res::sandboxes, "sb", {{"lastActivityAt", "2030-01-01T00:00:30Z"}});
       },
       milliseconds(60000), {}, milliseconds(30050)},
      {"released, TTL passed: its pod and the sandbox are deleted",
       [](Fixture& f) {
         allocated(f, {{"ttlSecondsAfterFinished", 10}});
         f.set_status(res::sandboxes, "sb", {{"phase", "Released"}});
       },
       milliseconds(10000), {"delete pods/py-a", "delete sandboxes/sb"}, milliseconds(0)},
  };
  for (const auto& row : rows) {
    INFO(row.name);
    Fixture f;
    f.at(T0);
    row.world(f);
    f.at(T0 + row.after_t0);
    f.kube.reset_counters();
    Result r = reconcile_sandbox(*f.ctx, "default", "sb");
    CHECK(f.writes() == row.writes);
    CHECK(r.requeue_after == row.requeue);
  }
}

TEST_CASE("an allocation's two writes carry the claim precondition and the full status") {
  Fixture f;
  f.at(T0);
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", true);
  sandbox_with(f, json::object());
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.writes() == Writes{"patch pods/py-a", "patch_status sandboxes/sb"});
  CHECK(f.body("patch", "pods", "py-a")[0]["op"] == "test");  // applies only while the pod is idle
  json claim = f.get(res::pods, "py-a")["metadata"];
  CHECK(claim["labels"] == json{{"arl.infra.io/pod-state", "allocated"}, {"arl.infra.io/sandbox", "sb"}, {"sandbox", "sb"},
                                {"arl.infra.io/warmpool", "py"}});
  CHECK(claim["ownerReferences"].size() == 1);
  CHECK(claim["ownerReferences"][0]["kind"] == "Sandbox");
  CHECK(claim["ownerReferences"][0]["controller"] == true);
  json st = f.body("patch_status", "sandboxes", "sb")["status"];
  CHECK(st == json::parse(R"({"phase":"Ready","podName":"py-a","podIP":"198.18.0.9","workDir":"/workspace",
      "allocatedAt":"2030-01-01T00:00:00Z","lastActivityAt":"2030-01-01T00:00:00Z","observedGeneration":1,
      "conditions":[{"type":"Ready","status":"True","reason":"Allocated","message":"pod py-a",
                     "lastTransitionTime":"2030-01-01T00:00:00Z","observedGeneration":1}]})"));
  CHECK(f.enqueued == std::vector<std::string>{"pool:default/py"});  // the refill, off the latency path
}

TEST_CASE("allocation binds the pod's sidecar to the sandbox's own token before the claim and the status write") {
  Fixture f;
  f.at(T0);
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", true);
  json sb = sandbox_with(f, json::object());
  f.kube.reset_counters();
  size_t writes_at_bind = 0;
  f.ctx->bind = [&](const std::string& ip, const std::string& pool_token, const std::string& own, const SandboxSettings&) {
    writes_at_bind = f.kube.write_log().size();
    f.binds.push_back(ip + " " + pool_token + " -> " + own);
  };
  reconcile_sandbox(*f.ctx, "default", "sb");
  const std::string own = arl::k8s::sandbox_token("pool-token-0123456789", sb["metadata"]["uid"].get<std::string>());
  CHECK(f.binds == std::vector<std::string>{"198.18.0.9 pool-token-0123456789 -> " + own});
  CHECK(writes_at_bind == 0);  // the claim and the status go out together once it is bound
  CHECK(f.writes() == Writes{"patch pods/py-a", "patch_status sandboxes/sb"});  // no write for the token
}

TEST_CASE("a pod whose sidecar cannot be bound is deleted and the sandbox, still Pending, claims another") {
  Fixture f;
  f.at(T0);
  f.make_pool("py", 2);
  f.make_pod("py-a", "py", true);
  sandbox_with(f, json::object());
  f.ctx->bind = [&](const std::string&, const std::string&, const std::string&, const SandboxSettings&) {
    throw arl::Error(arl::ErrorCode::unavailable, "connect to 198.18.0.9:8080: refused");
  };
  f.kube.reset_counters();
  Result r = reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes() == Writes{"create events/sb.*", "delete pods/py-a"});  // never claimed
  CHECK(r.requeue_after == std::chrono::milliseconds(200));
  CHECK_FALSE(f.get(res::sandboxes, "sb").contains("status"));
  CHECK(f.metrics.counter("arl_sidecar_bind_failures_total") == 1);

  f.make_pod("py-b", "py", true);
  f.ctx->bind = [&](const std::string&, const std::string&, const std::string&, const SandboxSettings&) {};
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.get(res::sandboxes, "sb")["status"]["podName"] == "py-b");
}

TEST_CASE("a wait's status says why, with the generation observed") {
  Fixture f;
  f.at(T0);
  sandbox_with(f, json::object());
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  json st = f.body("patch_status", "sandboxes", "sb")["status"];
  CHECK(st["phase"] == "Pending");
  CHECK(st["observedGeneration"] == 1);
  CHECK(st["conditions"][0]["reason"] == "PoolNotFound");
  CHECK(st["conditions"][0]["status"] == "False");
  CHECK(st["conditions"][0]["observedGeneration"] == 1);
}

TEST_CASE("allocation latency is measured on the monotonic clock from the first sighting") {
  Fixture f;
  auto mono = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  f.ctx->steady_now = [&] { return mono; };
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", false);
  note_sandbox_seen(*f.ctx, sandbox_with(f, json::object()));  // as the informer's add handler does
  reconcile_sandbox(*f.ctx, "default", "sb");  // waits for a ready pod
  f.make_pod("py-b", "py", true);
  mono += std::chrono::milliseconds(1500);
  reconcile_sandbox(*f.ctx, "default", "sb");
  auto [count, sum] = f.metrics.histogram("arl_sandbox_allocation_seconds");
  CHECK(count == 1);
  CHECK(sum == doctest::Approx(1.5));
  CHECK(f.ctx->first_seen.size() == 0);  // forgotten once allocated
}

TEST_CASE("an allocation's stages are observed once, when it is written") {
  Fixture f;
  // Each reading of the clock is 1 ms later: every span is measurable.
  auto mono = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  f.ctx->steady_now = [&] { return mono += std::chrono::milliseconds(1); };
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", false);
  note_sandbox_seen(*f.ctx, sandbox_with(f, json::object()));
  reconcile_sandbox(*f.ctx, "default", "sb");  // no ready pod: nothing allocated, nothing observed
  CHECK(f.metrics.histogram("arl_allocation_stage_seconds", "stage=\"queue\"").first == 0);
  f.make_pod("py-b", "py", true);
  reconcile_sandbox(*f.ctx, "default", "sb");
  for (const char* stage : {"queue", "plan", "settings", "claim", "bind", "status", "total"})
    CHECK_MESSAGE(f.metrics.histogram("arl_allocation_stage_seconds", fmt::format("stage=\"{}\"", stage)).first == 1, stage);
  auto stage_sum = [&](const char* stage) {
    return f.metrics.histogram("arl_allocation_stage_seconds", fmt::format("stage=\"{}\"", stage)).second;
  };
  CHECK(stage_sum("total") > stage_sum("claim") + stage_sum("bind") + stage_sum("status"));
  CHECK(stage_sum("total") == doctest::Approx(f.metrics.histogram("arl_sandbox_allocation_seconds").second));
  reconcile_sandbox(*f.ctx, "default", "sb");  // already Ready: observes nothing more
  CHECK(f.metrics.histogram("arl_allocation_stage_seconds", "stage=\"claim\"").first == 1);
}

TEST_CASE("a deleted Pending sandbox is forgotten by the latency clock") {
  Fixture f;
  json sb = sandbox_with(f, json::object());
  note_sandbox_seen(*f.ctx, sb);
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.ctx->first_seen.size() == 1);
  f.kube.remove(res::sandboxes, "default", "sb");
  on_sandbox_deleted(*f.ctx, sb);
  CHECK(f.ctx->first_seen.size() == 0);
}

TEST_CASE("tasks waiting on a Pending sandbox are woken by the sandbox's own Ready write") {
  // The informer cannot wake them: the operator's status write is in its cache before the watch
  // event arrives, so the event shows no change of phase. Seen on a real node as a task that
  // never started.
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_sandbox("sb", "py");
  f.make_task("t", "sb", json::array({{{"name", "a"}, {"type", "Command"}, {"command", {"true"}}}}));
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(reconcile_task(*f.ctx, "default", "t").requeue_after == kWaitingTaskRecheck);
  f.enqueued.clear();
  f.make_all_ready("py");
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");
  CHECK(std::count(f.enqueued.begin(), f.enqueued.end(), "task:default/t") == 1);
}

TEST_CASE("a sandbox deleted between the cache read and its status write is left alone, not retried") {
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_sandbox("sb", "nopool");  // waits: its first visit writes a PoolNotFound status
  f.kube.set_hook([](const std::string& verb, const arl::k8s::Resource& r, const std::string&, const std::string&) {
    if (verb == "patch_status" && r.plural == "sandboxes")
      throw arl::Error(arl::ErrorCode::not_found, "sandboxes.arl.infra.io \"sb\" not found");
  });
  Result r;
  CHECK_NOTHROW(r = reconcile_sandbox(*f.ctx, "default", "sb"));
  CHECK(r.requeue_after == std::chrono::milliseconds(0));
}

namespace {

// The kubelet's view of py-a's sidecar container "main": restarted `restarts` times, Ready or not.
void sidecar_status(Fixture& f, int restarts, bool ready) {
  f.set_status(res::pods, "py-a",
               json{{"phase", "Running"},
                    {"podIP", "198.18.0.9"},
                    {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}},
                    {"containerStatuses", {{{"name", "main"}, {"restartCount", restarts}, {"ready", ready}}}}});
}

// allocated(), with py-a's spec naming its sidecar container as a pool pod's does.
std::string allocated_with_sidecar(Fixture& f) {
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", false);
  f.kube.patch(res::pods, "default", "py-a", arl::k8s::PatchType::merge, json{{"spec", {{"containers", {{{"name", "main"}}}}}}});
  sidecar_status(f, 0, true);
  sandbox_with(f, json::object());
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.get(res::sandboxes, "sb")["status"]["podName"] == "py-a");
  REQUIRE(f.binds.size() == 1);
  return f.get(res::pods, "py-a")["metadata"]["uid"].get<std::string>();
}

std::string own_token(Fixture& f) {
  return arl::k8s::sandbox_token("pool-token-0123456789", f.get(res::sandboxes, "sb")["metadata"]["uid"].get<std::string>());
}

}  // namespace

TEST_CASE("a sidecar that restarted is bound again to the sandbox's token once Ready: one Event, no other write, once") {
  Fixture f;
  f.at(T0);
  const std::string uid = allocated_with_sidecar(f);
  CHECK(f.ctx->sidecar_binds.size() == 0);  // the allocation, at restart count 0, records nothing

  sidecar_status(f, 1, false);  // killed by sandbox code; the kubelet started it again, not probed yet
  f.kube.reset_counters();
  Result r = reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.binds.size() == 1);
  CHECK(f.writes().empty());
  CHECK(r.requeue_after == std::chrono::milliseconds(1000));

  sidecar_status(f, 1, true);
  f.kube.reset_counters();
  r = reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.binds == std::vector<std::string>{"198.18.0.9 pool-token-0123456789 -> " + own_token(f),
                                            "198.18.0.9 pool-token-0123456789 -> " + own_token(f)});
  CHECK(f.writes() == Writes{"create events/sb.*"});
  CHECK(f.body("create", "events", f.kube.write_log().back().name)["reason"] == "SidecarRebound");
  CHECK(r.requeue_after == std::chrono::milliseconds(0));
  CHECK(f.ctx->sidecar_binds.bound_at(uid) == 1);
  CHECK(f.metrics.counter("arl_sidecar_rebinds_total") == 1);
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Ready");

  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");  // steady state
  CHECK(f.binds.size() == 2);
  CHECK(f.writes().empty());

  sidecar_status(f, 2, true);  // killed again
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.binds.size() == 3);
  CHECK(f.ctx->sidecar_binds.bound_at(uid) == 2);
}

TEST_CASE("a new operator process binds a pod whose sidecar ever restarted once more, then leaves it") {
  Fixture f;
  f.at(T0);
  allocated_with_sidecar(f);
  sidecar_status(f, 1, true);
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.binds.size() == 2);

  Context fresh{f.kube, f.cache, {}, f.ctx->runners, f.metrics, f.events, f.ctx->enqueue};
  fresh.bind = f.ctx->bind;
  fresh.wall_now = f.ctx->wall_now;
  fresh.tokens.put("default/py", "pool-token-0123456789");
  reconcile_sandbox(fresh, "default", "sb");  // it cannot know: bound again (the sidecar answers `already`)
  CHECK(f.binds.size() == 3);
  reconcile_sandbox(fresh, "default", "sb");
  CHECK(f.binds.size() == 3);
}

TEST_CASE("a restarted sidecar not answering yet is retried; one that refuses the sandbox's token is deleted") {
  Fixture f;
  f.at(T0);
  allocated_with_sidecar(f);
  sidecar_status(f, 1, true);
  f.ctx->bind = [&](const std::string&, const std::string&, const std::string&, const SandboxSettings&) {
    throw arl::Error(arl::ErrorCode::unavailable, "connect to 198.18.0.9:8080: refused");
  };
  f.kube.reset_counters();
  Result r = reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes().empty());
  CHECK(r.requeue_after == std::chrono::milliseconds(1000));
  CHECK(f.metrics.counter("arl_sidecar_bind_failures_total") == 1);

  // 401 to both tokens: bound to a token that is not the sandbox's. It must not serve anyone.
  f.ctx->bind = [&](const std::string&, const std::string&, const std::string&, const SandboxSettings&) {
    throw arl::Error(arl::ErrorCode::unauthorized, "sidecar 198.18.0.9:8080: POST /bind: 401 unauthorized");
  };
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes() == Writes{"create events/sb.*", "delete pods/py-a"});
  CHECK(f.body("create", "events", f.kube.write_log().front().name)["reason"] == "BindFailed");
  reconcile_sandbox(*f.ctx, "default", "sb");  // the pod is gone: the sandbox fails as for any lost pod
  CHECK(f.get(res::sandboxes, "sb")["status"]["phase"] == "Failed");
  CHECK(f.get(res::sandboxes, "sb")["status"]["conditions"][0]["reason"] == "PodLost");
}
