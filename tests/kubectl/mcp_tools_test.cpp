#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

#include "kubectl/mcp_tools.h"
#include "core/error.h"
#include "k8s/fake_kube.h"

using namespace arl;
using namespace arl::kubectl;
using nlohmann::json;

namespace {

// The tools against a FakeKube: everything up to the sandbox's executor.
struct Tools {
  std::shared_ptr<k8s::FakeKube> kube = std::make_shared<k8s::FakeKube>();
  std::ostringstream out, err;
  PluginContext ctx;
  std::unique_ptr<SandboxTools> tools;
  std::vector<std::string> progress;

  explicit Tools(McpToolOptions o) {
    ctx.inject(kube, &out, &err);
    tools = std::make_unique<SandboxTools>(ctx, std::move(o));
  }
  mcp::ToolResult call(const std::string& name, const json& args) {
    return tools->call(name, args, [this](const std::string& m) { progress.push_back(m); }, {});
  }
  void add_pool(const std::string& name) {
    kube->create(k8s::resources::warm_pools, "default",
                 {{"apiVersion", "arl.infra.io/v1alpha1"}, {"kind", "WarmPool"},
                  {"metadata", {{"name", name}, {"namespace", "default"}}}, {"spec", {{"replicas", 1}}}});
  }
};

}  // namespace

TEST_CASE("sandbox_create takes a keep-alive sandbox from --pool and makes it current") {
  Tools t({.pool = "py"});
  t.add_pool("py");
  std::jthread op([&] {  // the operator's part: a pod for the first sandbox
    for (int i = 0; i < 500; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      auto list = t.kube->list(k8s::resources::sandboxes, "default");
      if (!list.items.empty()) {
        auto sb = list.items[0];
        sb["status"] = {{"phase", "Ready"}, {"podName", "py-abcde"}};
        t.kube->update_status(k8s::resources::sandboxes, "default", sb);
        return;
      }
    }
  });
  auto r = t.call("sandbox_create", json::object());
  REQUIRE_FALSE(r.is_error);
  const std::string name = r.structured["sandbox"];
  CHECK(name.rfind("py-", 0) == 0);
  CHECK(r.structured == json{{"sandbox", name}, {"namespace", "default"}, {"pool", "py"}, {"pod", "py-abcde"},
                             {"phase", "Ready"}});
  auto sb = t.kube->get(k8s::resources::sandboxes, "default", name);
  REQUIRE(sb);
  CHECK((*sb)["spec"]["keepAlive"] == true);
  CHECK(t.progress.front() == "sandbox " + name + " created, waiting for a pod of pool py");
  CHECK(t.progress.back() == "sandbox " + name + ": Ready");

  // Now current: release needs no name, and forgets it.
  auto rel = t.call("sandbox_release", json::object());
  CHECK(rel.structured == json{{"sandbox", name}, {"released", true}});
  CHECK_FALSE(t.kube->get(k8s::resources::sandboxes, "default", name));
  CHECK_THROWS_WITH_AS(t.call("run_command", {{"command", "true"}}),
                       "no sandbox yet: call sandbox_create first (or pass sandbox, the name of an existing one)",
                       Error);
}

TEST_CASE("sandbox_create says what to do without a pool, with a missing pool, a bad ttl, or under --sandbox") {
  Tools none({});
  CHECK(none.call("sandbox_create", json::object()).text ==
        "sandbox_create: no pool given: pass pool (`kubectl arl pool list` shows the warm pools), or start "
        "`kubectl arl mcp` with --pool");
  CHECK(none.call("sandbox_create", {{"pool", "gone"}}).text ==
        "warm pool gone not found in namespace default: pass the name of an existing one (`kubectl arl pool list "
        "-n default` shows them)");
  auto ttl = none.call("sandbox_create", {{"pool", "gone"}, {"ttl", "soon"}});
  CHECK(ttl.is_error);
  CHECK(ttl.text.rfind("sandbox_create: ttl", 0) == 0);

  Tools fixed({.sandbox = "sb1"});
  auto r = fixed.call("sandbox_create", json::object());
  CHECK(r.is_error);
  CHECK(r.text ==
        "this server works on sandbox sb1 (started with --sandbox): use the other tools on it directly; to create "
        "sandboxes, start `kubectl arl mcp` with --pool instead");
  CHECK(none.kube->list(k8s::resources::sandboxes, "default").items.empty());
}

TEST_CASE("tools on a missing sandbox say how to get one; releasing it twice is an error") {
  Tools t({.sandbox = "sb1"});
  CHECK_THROWS_WITH_AS(t.call("read_file", {{"path", "x"}}),
                       "sandboxes.arl.infra.io \"sb1\" not found in namespace default: call sandbox_create for a "
                       "new sandbox, or pass sandbox, the name of an existing one (`kubectl arl sandbox list -n "
                       "default`)",
                       Error);
  auto r = t.call("sandbox_release", {{"sandbox", "other"}});
  CHECK(r.is_error);
  CHECK(r.text == "sandbox other not found in namespace default (already released?)");
}

TEST_CASE("list_files output: entries sorted by name, sizes of files only") {
  auto entries = parse_file_list("/workspace/dir\n"
                                 "file\t   12\tb.txt\n"
                                 "directory\t-\tsub\n"
                                 "file\t0\ta b.txt\n"
                                 "symlink\t-\tlink\n"
                                 "file\t\tunreadable\n"
                                 "garbage line\n");
  CHECK(entries == json::parse(R"([{"name":"a b.txt","type":"file","size":0},{"name":"b.txt","type":"file","size":12},
                                  {"name":"link","type":"symlink"},{"name":"sub","type":"directory"},
                                  {"name":"unreadable","type":"file"}])"));
  CHECK(parse_file_list("/workspace/empty\n").empty());
}
