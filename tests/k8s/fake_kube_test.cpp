#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "k8s/fake_kube.h"

using namespace arl;
using namespace arl::k8s;

namespace {

json pod(const std::string& name, json labels = json::object()) {
  return {{"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}},
          {"status", {{"phase", "Running"}}}};
}

std::string rv(const json& o) { return o["metadata"]["resourceVersion"].get<std::string>(); }

// Polls `done` until it holds or `limit` passes: a broken watch fails the
// test with a message instead of hanging the whole run.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace

TEST_CASE("create assigns metadata, drops status, refuses duplicates") {
  FakeKube k;
  json p = k.create(resources::pods, "ns", pod("a"));
  CHECK(p["metadata"]["namespace"] == "ns");
  CHECK(!p["metadata"]["uid"].get<std::string>().empty());
  CHECK(p["metadata"]["generation"] == 1);
  CHECK(p["status"]["phase"] == "Pending");  // status is the server's, not the creator's
  CHECK(p["kind"] == "Pod");
  try {
    k.create(resources::pods, "ns", pod("a"));
    FAIL("expected AlreadyExists");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::already_exists);
    CHECK(std::string(e.what()) == "pods \"a\" already exists");
  }
  json g = k.create(resources::pods, "ns", {{"metadata", {{"generateName", "pool-"}}}});
  CHECK(g["metadata"]["name"].get<std::string>().rfind("pool-", 0) == 0);
  CHECK(g["metadata"]["name"].get<std::string>().size() == 10);
  CHECK(k.writes("create") == 2);
  CHECK_FALSE(k.get(resources::pods, "other", "a"));
}

TEST_CASE("update: stale resourceVersion conflicts, status is kept, generation bumps on spec change") {
  FakeKube k;
  json p = k.create(resources::warm_pools, "ns", {{"metadata", {{"name", "p"}}}, {"spec", {{"replicas", 1}}}});
  json upd = p;
  upd["spec"]["replicas"] = 3;
  upd["status"] = {{"ready", 99}};
  json out = k.update(resources::warm_pools, "ns", upd);
  CHECK(out["metadata"]["generation"] == 2);
  CHECK_FALSE(out.contains("status"));
  CHECK(std::stoull(rv(out)) > std::stoull(rv(p)));
  // p carries the old resourceVersion now.
  CHECK_THROWS_WITH_AS(k.update(resources::warm_pools, "ns", upd), doctest::Contains("has been modified"), Error);
  try {
    k.update(resources::warm_pools, "ns", upd);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::conflict);
  }
  // Status through the subresource: spec edits there are ignored.
  json st = out;
  st["status"] = {{"ready", 2}};
  st["spec"]["replicas"] = 100;
  json s = k.update_status(resources::warm_pools, "ns", st);
  CHECK(s["status"]["ready"] == 2);
  CHECK(s["spec"]["replicas"] == 3);
  CHECK(s["metadata"]["generation"] == 2);
  // A no-op update does not bump the resourceVersion.
  json same = k.update(resources::warm_pools, "ns", s);
  CHECK(rv(same) == rv(s));
  CHECK_THROWS_AS(k.update(resources::warm_pools, "ns", {{"metadata", {{"name", "nope"}}}}), Error);
}

TEST_CASE("merge patch and JSON patch; resourceVersion in a merge patch is a precondition") {
  FakeKube k;
  json p = k.create(resources::pods, "ns", pod("a", {{"arl.infra.io/pod-state", "ready"}}));
  json out = k.patch(resources::pods, "ns", "a", PatchType::merge,
                     {{"metadata", {{"resourceVersion", rv(p)}, {"labels", {{"arl.infra.io/pod-state", "allocated"}, {"x", nullptr}}}}}});
  CHECK(out["metadata"]["labels"]["arl.infra.io/pod-state"] == "allocated");
  try {
    k.patch(resources::pods, "ns", "a", PatchType::merge, {{"metadata", {{"resourceVersion", rv(p)}, {"labels", {{"y", "1"}}}}}});
    FAIL("expected a conflict");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::conflict);
  }
  json jp = json::array({{{"op", "test"}, {"path", "/metadata/labels/arl.infra.io~1pod-state"}, {"value", "allocated"}},
                         {{"op", "add"}, {"path", "/metadata/labels/b"}, {"value", "2"}},
                         {{"op", "replace"}, {"path", "/spec/containers/0/image"}, {"value", "alpine"}},
                         {{"op", "remove"}, {"path", "/metadata/labels/arl.infra.io~1pod-state"}}});
  json o2 = k.patch(resources::pods, "ns", "a", PatchType::json_patch, jp);
  CHECK(o2["metadata"]["labels"]["b"] == "2");
  CHECK_FALSE(o2["metadata"]["labels"].contains("arl.infra.io/pod-state"));
  CHECK(o2["spec"]["containers"][0]["image"] == "alpine");
  json failing = json::array({{{"op", "test"}, {"path", "/metadata/labels/b"}, {"value", "nope"}}});
  CHECK_THROWS_AS(k.patch(resources::pods, "ns", "a", PatchType::json_patch, failing), Error);
  // Status patch changes only status; a plain patch cannot touch status.
  json s = k.patch(resources::pods, "ns", "a", PatchType::merge, {{"status", {{"podIP", "1.2.3.4"}}}, {"spec", {{"x", 1}}}}, true);
  CHECK(s["status"]["podIP"] == "1.2.3.4");
  CHECK_FALSE(s["spec"].contains("x"));
  json n = k.patch(resources::pods, "ns", "a", PatchType::merge, {{"status", {{"podIP", "9.9.9.9"}}}});
  CHECK(n["status"]["podIP"] == "1.2.3.4");
  CHECK(k.writes("patch") == 3);
  CHECK(k.writes("patch_status") == 1);
  CHECK(k.writes("patch", "pods") == 3);
  CHECK_THROWS_AS(k.patch(resources::pods, "ns", "zz", PatchType::merge, json::object()), Error);
}

TEST_CASE("list with label selectors, field selectors and pages") {
  FakeKube k;
  for (int i = 0; i < 5; ++i)
    k.create(resources::pods, "ns", pod("p" + std::to_string(i), {{"pool", i % 2 ? "odd" : "even"}}));
  k.create(resources::pods, "other", pod("q", {{"pool", "odd"}}));
  CHECK(k.list(resources::pods, "ns").items.size() == 5);
  CHECK(k.list(resources::pods, "").items.size() == 6);
  CHECK(k.list(resources::pods, "ns", {.label_selector = "pool=odd"}).items.size() == 2);
  CHECK(k.list(resources::pods, "", {.label_selector = "pool in (odd)"}).items.size() == 3);
  CHECK(k.list(resources::pods, "ns", {.label_selector = "pool!=odd"}).items.size() == 3);
  CHECK(k.list(resources::pods, "ns", {.label_selector = "!pool"}).items.empty());
  k.bind_pod("ns", "p1", "node-a");
  CHECK(k.list(resources::pods, "ns", {.field_selector = "spec.nodeName=node-a"}).items.size() == 1);
  CHECK_THROWS_AS(k.bind_pod("ns", "p1", "node-b"), Error);
  std::vector<std::string> names;
  ListOptions lo{.limit = 2};
  do {
    auto page = k.list(resources::pods, "ns", lo);
    CHECK(page.items.size() <= 2);
    for (auto& i : page.items) names.push_back(i["metadata"]["name"]);
    lo.continue_token = page.continue_token;
  } while (!lo.continue_token.empty());
  CHECK(names == std::vector<std::string>{"p0", "p1", "p2", "p3", "p4"});
}

TEST_CASE("delete honours preconditions and reports a missing object") {
  FakeKube k;
  json p = k.create(resources::pods, "ns", pod("a"));
  CHECK_THROWS_AS(k.remove(resources::pods, "ns", "a", {.precondition_uid = "wrong"}), Error);
  CHECK(k.remove(resources::pods, "ns", "a", {.precondition_uid = p["metadata"]["uid"].get<std::string>()}));
  CHECK_FALSE(k.remove(resources::pods, "ns", "a"));
  CHECK(k.writes("delete") == 1);
}

TEST_CASE("hooks inject failures") {
  FakeKube k;
  k.set_hook([](const std::string& verb, const Resource& r, const std::string&, const std::string&) {
    if (verb == "create" && r.plural == "secrets") throw Error(ErrorCode::forbidden, "secrets is forbidden");
  });
  CHECK_THROWS_AS(k.create(resources::secrets, "ns", {{"metadata", {{"name", "s"}}}}), Error);
  CHECK_NOTHROW(k.create(resources::pods, "ns", pod("a")));
  CHECK(k.writes("create") == 1);
}

TEST_CASE("watch replays from a resourceVersion, follows selectors, and reports Gone after compaction") {
  FakeKube k;
  json a = k.create(resources::pods, "ns", pod("a", {{"s", "ready"}}));
  std::string start = rv(a);
  k.patch(resources::pods, "ns", "a", PatchType::merge, {{"metadata", {{"labels", {{"s", "allocated"}}}}}});
  k.create(resources::pods, "ns", pod("b", {{"s", "ready"}}));
  k.remove(resources::pods, "ns", "b");

  std::vector<std::pair<WatchEvent::Type, std::string>> seen;
  WatchOptions wo;
  wo.resource_version = start;
  wo.label_selector = "s=ready";
  wo.timeout = std::chrono::seconds(5);
  k.watch(resources::pods, "ns", wo, [&](const WatchEvent& ev) {
    seen.emplace_back(ev.type, ev.object["metadata"]["name"].get<std::string>());
    return seen.size() < 3;
  });
  // a leaves the selector (DELETED), b comes and goes.
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == std::pair{WatchEvent::Type::deleted, std::string("a")});
  CHECK(seen[1] == std::pair{WatchEvent::Type::added, std::string("b")});
  CHECK(seen[2] == std::pair{WatchEvent::Type::deleted, std::string("b")});

  k.compact();
  wo.label_selector.clear();
  try {
    k.watch(resources::pods, "ns", wo, [](const WatchEvent&) { return true; });
    FAIL("expected Gone");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::gone);
  }
}

TEST_CASE("a live watch sees writes from another thread and stops on request") {
  FakeKube k;
  std::stop_source stop;
  std::atomic<int> events{0};
  WatchOptions wo;
  wo.resource_version = k.current_resource_version();
  wo.timeout = std::chrono::seconds(5);  // the server's deadline: join() below cannot hang if stop is ignored
  std::thread t([&] {
    k.watch(resources::sandboxes, "ns", wo, [&](const WatchEvent&) { ++events; return true; }, stop.get_token());
  });
  CHECK_MESSAGE(eventually([&] { return k.active_watches() > 0; }), "the watch never started");
  k.create(resources::sandboxes, "ns", {{"metadata", {{"name", "s"}}}});
  k.create(resources::pods, "ns", pod("unrelated"));
  CHECK_MESSAGE(eventually([&] { return events.load() >= 1; }), "the watch never delivered the sandbox's ADDED");
  auto t0 = std::chrono::steady_clock::now();
  stop.request_stop();
  t.join();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  CHECK(events.load() == 1);
  CHECK(k.active_watches() == 0);
}

TEST_CASE("a wait gives up at its deadline instead of hanging") {
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(eventually([] { return false; }, std::chrono::milliseconds(20)));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  CHECK(eventually([] { return true; }, std::chrono::milliseconds(0)));
}

TEST_CASE("the write log lists successful writes in order, with what was sent") {
  FakeKube k;
  json p = k.create(resources::pods, "ns", pod("a"));
  json patch{{"metadata", {{"resourceVersion", rv(p)}, {"labels", {{"x", "1"}}}}}};
  k.patch(resources::pods, "ns", "a", PatchType::merge, patch);
  CHECK_THROWS_AS(k.patch(resources::pods, "ns", "a", PatchType::merge, patch), Error);  // stale: not a write
  k.patch(resources::pods, "ns", "a", PatchType::merge, {{"status", {{"podIP", "1.2.3.4"}}}}, true);
  k.get(resources::pods, "ns", "a");
  k.remove(resources::pods, "ns", "a");
  CHECK(k.write_summaries() == std::vector<std::string>{"create pods/a", "patch pods/a", "patch_status pods/a", "delete pods/a"});
  auto log = k.write_log();
  REQUIRE(log.size() == 4);
  CHECK(log[0].ns == "ns");
  CHECK(log[0].body == pod("a"));
  CHECK(log[1].body == patch);
  CHECK(log[2].body["status"]["podIP"] == "1.2.3.4");
  CHECK(log[3].body.is_null());
  k.reset_counters();
  CHECK(k.write_log().empty());
  CHECK(k.total_writes() == 0);
}
