#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "k8s/fake_kube.h"
#include "k8s/informer.h"

using namespace arl;
using namespace arl::k8s;
using namespace std::chrono_literals;

namespace {

json pod(const std::string& name, const std::string& state) {
  return {{"metadata", {{"name", name}, {"labels", {{"arl.infra.io/pod-state", state}}}}}, {"spec", json::object()}};
}

template <class F>
bool eventually(F f, std::chrono::milliseconds within = 3s) {
  auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return f();
}

}  // namespace

TEST_CASE("Store: label index follows updates and upsert keeps the newest version") {
  Store s;
  json a = pod("a", "ready");
  a["metadata"]["namespace"] = "ns";
  a["metadata"]["resourceVersion"] = "10";
  CHECK(s.upsert(a));
  CHECK(s.list("ns", "arl.infra.io/pod-state", "ready").size() == 1);
  json older = a;
  older["metadata"]["resourceVersion"] = "9";
  older["metadata"]["labels"]["arl.infra.io/pod-state"] = "allocated";
  CHECK_FALSE(s.upsert(older));
  json newer = older;
  newer["metadata"]["resourceVersion"] = "100";  // 100 > 10 as integers, not as strings ("100" < "9")
  CHECK(s.upsert(newer));
  CHECK(s.list("ns", "arl.infra.io/pod-state", "ready").empty());
  CHECK(s.list("ns", "arl.infra.io/pod-state", "allocated").size() == 1);
  CHECK(s.list("other", "arl.infra.io/pod-state", "allocated").empty());
  json del = newer;
  del["metadata"]["resourceVersion"] = "101";
  s.erase(del);
  CHECK(s.size() == 0);
  CHECK_FALSE(s.upsert(newer));  // a late write result must not resurrect a deleted object
}

TEST_CASE("Informer lists, watches, calls handlers and re-lists after Gone") {
  FakeKube k;
  k.create(resources::pods, "ns", pod("a", "ready"));
  k.create(resources::pods, "ns", pod("b", "ready"));
  k.create(resources::pods, "other", pod("c", "ready"));

  Informer inf(k, resources::pods, {.ns = "ns", .retry_backoff = 10ms});
  std::atomic<int> adds{0}, updates{0}, deletes{0};
  inf.on_add([&](const json&) { ++adds; });
  inf.on_update([&](const json&, const json&) { ++updates; });
  inf.on_delete([&](const json&) { ++deletes; });
  inf.start();
  REQUIRE(inf.wait_for_sync(2s));
  CHECK(inf.has_synced());
  CHECK(inf.store().size() == 2);
  CHECK(adds.load() == 2);

  REQUIRE(eventually([&] { return k.active_watches() == 1; }));
  json out = k.patch(resources::pods, "ns", "a", PatchType::merge,
                     {{"metadata", {{"labels", {{"arl.infra.io/pod-state", "allocated"}}}}}});
  CHECK(eventually([&] { return inf.store().list("ns", "arl.infra.io/pod-state", "allocated").size() == 1; }));
  CHECK(updates.load() == 1);
  k.remove(resources::pods, "ns", "b");
  CHECK(eventually([&] { return deletes.load() == 1 && inf.store().size() == 1; }));
  CHECK(inf.resource_version() == k.current_resource_version());

  // The watch ends and, before the informer watches again, a pod is created
  // and the history compacted: its resourceVersion is now too old (Gone), so
  // it re-lists and reports what changed while it was not watching.
  std::atomic<bool> armed{true};
  k.set_hook([&](const std::string& verb, const Resource&, const std::string&, const std::string&) {
    if (verb == "watch" && armed.exchange(false)) {
      k.create(resources::pods, "ns", pod("d", "ready"));
      k.compact();
    }
  });
  int adds_before = adds.load();
  k.close_watches();
  CHECK(eventually([&] { return inf.list_count() == 2 && inf.store().size() == 2; }));
  CHECK(adds.load() == adds_before + 1);
  CHECK(inf.store().get("ns", "d"));
  k.set_hook(nullptr);
  k.create(resources::pods, "ns", pod("e", "ready"));
  CHECK(eventually([&] { return inf.store().size() == 3; }));
  CHECK(inf.store().get("ns", "e"));
  CHECK_FALSE(inf.store().get("other", "c"));

  auto t0 = std::chrono::steady_clock::now();
  inf.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}

TEST_CASE("Informer with a label selector sees objects leave it") {
  FakeKube k;
  k.create(resources::pods, "ns", pod("a", "ready"));
  Informer inf(k, resources::pods, {.label_selector = "arl.infra.io/pod-state=ready"});
  inf.start();
  REQUIRE(inf.wait_for_sync(2s));
  REQUIRE(eventually([&] { return k.active_watches() == 1; }));
  CHECK(inf.store().size() == 1);
  k.patch(resources::pods, "ns", "a", PatchType::merge, {{"metadata", {{"labels", {{"arl.infra.io/pod-state", "allocated"}}}}}});
  CHECK(eventually([&] { return inf.store().size() == 0; }));
}

TEST_CASE("Informer: an object upserted from a write still reaches on_add") {
  FakeKube k;
  Informer inf(k, resources::pods, {.ns = "ns"});
  std::atomic<int> adds{0}, updates{0};
  inf.on_add([&](const json&) { ++adds; });
  inf.on_update([&](const json&, const json&) { ++updates; });
  inf.start();
  REQUIRE(inf.wait_for_sync(2s));
  REQUIRE(eventually([&] { return k.active_watches() == 1; }));
  json out = k.create(resources::pods, "ns", pod("a", "ready"));
  inf.store().upsert(out);
  CHECK(inf.store().get("ns", "a"));
  CHECK(eventually([&] { return adds.load() == 1; }));
  CHECK(updates.load() == 0);
}

TEST_CASE("Store: cached objects drop managedFields and are shared, not copied, by list_ptrs") {
  Store s;
  json pod{{"metadata",
            {{"name", "p"}, {"namespace", "ns"}, {"resourceVersion", "5"}, {"labels", {{"a", "b"}}},
             {"managedFields", json::array({{{"manager", "kubectl"}}})}}}};
  s.apply(pod);
  CHECK_FALSE(s.get("ns", "p")->at("metadata").contains("managedFields"));
  auto a = s.list_ptrs("ns", "a", "b");
  auto b = s.list_ptrs("ns");
  REQUIRE(a.size() == 1);
  REQUIRE(b.size() == 1);
  CHECK(a[0].get() == b[0].get());
  CHECK(s.list_ptrs("other").empty());
}

TEST_CASE("Store: a transform trims objects before they are cached, upserts included") {
  Store s;
  s.set_transform([](json& o) { o.erase("spec"); });
  s.apply(json{{"metadata", {{"name", "a"}, {"namespace", "ns"}, {"resourceVersion", "1"}}}, {"spec", {{"big", 1}}}});
  s.upsert(json{{"metadata", {{"name", "b"}, {"namespace", "ns"}, {"resourceVersion", "2"}}}, {"spec", {{"big", 1}}}});
  CHECK_FALSE(s.get("ns", "a")->contains("spec"));
  CHECK_FALSE(s.get("ns", "b")->contains("spec"));
}

TEST_CASE("Store: a relist's objects are trimmed like watched ones; apply hands back the previous object, shared") {
  Store s;
  s.set_transform([](json& o) { o.erase("spec"); });
  const json listed{{"metadata", {{"name", "a"}, {"namespace", "ns"}, {"resourceVersion", "1"}, {"managedFields", {1}}}},
                    {"spec", {{"big", 1}}}};
  s.replace({listed});
  CHECK_FALSE(s.get("ns", "a")->contains("spec"));
  CHECK_FALSE(s.get("ns", "a")->at("metadata").contains("managedFields"));

  const auto before = s.list_ptrs("ns");
  json next = listed;
  next["metadata"]["resourceVersion"] = "2";
  Store::Ptr prev = s.apply(next);
  REQUIRE(prev);
  CHECK(prev.get() == before[0].get());  // the cached snapshot itself, not a copy
  CHECK(prev->at("metadata").value("resourceVersion", "") == "1");
  CHECK_FALSE(s.apply(json{{"metadata", {{"name", "new"}, {"namespace", "ns"}, {"resourceVersion", "3"}}}}));
  CHECK(s.erase(next).get() != nullptr);
  CHECK_FALSE(s.erase(next));
}
