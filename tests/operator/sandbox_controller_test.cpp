#include <doctest/doctest.h>

#include <set>

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
  CHECK(f.kube.total_writes() == 2);  // pod label patch + sandbox status
  CHECK(f.kube.writes("patch", "pods") == 1);
  CHECK(f.kube.writes("patch_status", "sandboxes") == 1);
  // the refill is asked for, not done inline
  CHECK(std::find(f.enqueued.begin(), f.enqueued.end(), "pool:default/py") != f.enqueued.end());

  // refill + pool status: the other two writes of the allocation
  f.kube.reset_counters();
  reconcile_pool(*f.ctx, "default", "py");
  CHECK(f.kube.writes("create", "pods") == 1);
  CHECK(f.kube.total_writes() <= 2);
}

TEST_CASE("sandboxes never share a pod, even across two operators with stale caches") {
  Fixture f;
  f.make_pool("py", 4);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");

  // Both operators see the same snapshot of pods; the second one's patches
  // carry stale resourceVersions after the first one allocated.
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
  CHECK(f.kube.total_writes() == 0);
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

TEST_CASE("a lost pod fails the sandbox; released sandboxes lose their pod") {
  Fixture f;
  f.make_pool("py", 1);
  reconcile_pool(*f.ctx, "default", "py");
  f.make_all_ready("py");
  f.make_sandbox("sb", "py");
  reconcile_sandbox(*f.ctx, "default", "sb");
  std::string pod = f.get(res::sandboxes, "sb")["status"]["podName"];
  f.kube.remove(res::pods, "default", pod);
  reconcile_sandbox(*f.ctx, "default", "sb");
  auto sb = f.get(res::sandboxes, "sb");
  CHECK(sb["status"]["phase"] == "Failed");
  CHECK(sb["status"]["conditions"][0]["reason"] == "PodLost");
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
