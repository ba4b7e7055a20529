// Sandbox.spec.forkOf: where the copy comes from (pure rows), and the writes
// and sidecar calls of a fork's allocation.
#include <doctest/doctest.h>

#include "k8s/sandbox_token.h"
#include "operator/fork_source.h"
#include "operator_fixture.h"

using namespace arl::op;
using namespace arl::op::testing;

namespace {

json sandbox_json(const std::string& name, const std::string& pool, json status = nullptr) {
  json sb{{"metadata", {{"name", name}, {"namespace", "default"}}}, {"spec", {{"poolRef", pool}}}};
  if (!status.is_null()) sb["status"] = std::move(status);
  return sb;
}

json pool_json(const std::string& name, const std::string& image) {
  return json{{"metadata", {{"name", name}}},
              {"spec", {{"template", {{"spec", {{"containers", {{{"name", "py"}, {"image", image}}}}}}}}}}};
}

const json kReadyAt9 = json{{"phase", "Ready"}, {"podIP", "198.18.0.9"}};

}  // namespace

TEST_CASE("resolve_fork: the source must exist, be Ready or Bound, and run the fork's images") {
  struct Row {
    std::string name;
    std::optional<json> source;
    std::string fork_pool;
    std::optional<json> fork_pool_obj, source_pool_obj;
    std::string reason;  // "" = resolved
  };
  json deleting = sandbox_json("src", "py", kReadyAt9);
  deleting["metadata"]["deletionTimestamp"] = "2030-01-01T00:00:00Z";
  const Row rows[] = {
      {"missing", std::nullopt, "py", pool_json("py", "python:3.12"), std::nullopt, "ForkSourceNotFound"},
      {"being deleted", deleting, "py", std::nullopt, std::nullopt, "ForkSourceNotFound"},
      {"pending", sandbox_json("src", "py"), "py", std::nullopt, std::nullopt, "ForkSourceNotReady"},
      {"ready without an IP", sandbox_json("src", "py", {{"phase", "Ready"}}), "py", std::nullopt, std::nullopt, "ForkSourceNotReady"},
      {"released", sandbox_json("src", "py", {{"phase", "Released"}, {"podIP", "198.18.0.9"}}), "py", std::nullopt, std::nullopt,
       "ForkSourceNotReady"},
      {"ready, same pool (pools not even needed)", sandbox_json("src", "py", kReadyAt9), "py", std::nullopt, std::nullopt, ""},
      {"bound (a task runs in it)", sandbox_json("src", "py", {{"phase", "Bound"}, {"podIP", "198.18.0.9"}}), "py", std::nullopt,
       std::nullopt, ""},
      {"other pool, same image", sandbox_json("src", "py", kReadyAt9), "py2", pool_json("py2", "python:3.12"),
       pool_json("py", "python:3.12"), ""},
      {"other pool, other image", sandbox_json("src", "py", kReadyAt9), "py2", pool_json("py2", "python:3.13"),
       pool_json("py", "python:3.12"), "ForkImageMismatch"},
      {"other pool, source's pool gone", sandbox_json("src", "py", kReadyAt9), "py2", pool_json("py2", "python:3.12"), std::nullopt,
       "ForkImageMismatch"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    ResolvedFork got = resolve_fork(arl::core::ForkOf{"src", "ck1"}, sandbox_json("child", r.fork_pool), r.source,
                                    r.fork_pool_obj, r.source_pool_obj);
    if (r.reason.empty()) {
      REQUIRE_FALSE(got.failure.has_value());
      CHECK(got.source == ForkSource{"src", "py", "198.18.0.9", "ck1"});
    } else {
      REQUIRE(got.failure.has_value());
      CHECK(got.failure->reason == r.reason);
      CHECK(got.failure->message.find("src") != std::string::npos);  // names the source
    }
  }
}

namespace {

constexpr const char* kPoolToken = "pool-token-0123456789";

// Pool py with the source sandbox src allocated to py-a (198.18.0.9) and an
// idle ready pod py-b (198.18.0.10) for the fork.
struct ForkFixture : Fixture {
  std::vector<ForkTransfer> transfers;
  size_t writes_at_fork = 0;

  ForkFixture() {
    at(at_rfc3339("2030-01-01T00:00:00Z"));
    ctx->tokens.put("default/py", kPoolToken);
    make_pool("py", 2);
    make_pod("py-a", "py", true);
    make_sandbox("src", "py");
    reconcile_sandbox(*ctx, "default", "src");
    REQUIRE(get(res::sandboxes, "src")["status"]["phase"] == "Ready");
    make_ready(make_pod("py-b", "py", false), 10);
    ctx->fork = [this](const ForkTransfer& t) {
      writes_at_fork = kube.write_log().size();
      transfers.push_back(t);
      return ForkCopied{t.checkpoint.empty() ? "0000abcd" : t.checkpoint, 3, 12};
    };
  }

  json make_fork(json fork_of) {
    return kube.create(res::sandboxes, "default",
                       json{{"metadata", {{"name", "child"}, {"namespace", "default"}}},
                            {"spec", {{"poolRef", "py"}, {"keepAlive", true}, {"forkOf", std::move(fork_of)}}}});
  }

  std::string token_of(const std::string& sandbox) {
    return arl::k8s::sandbox_token(kPoolToken, get(res::sandboxes, sandbox)["metadata"]["uid"].get<std::string>());
  }
};

}  // namespace

TEST_CASE("a fork is bound, then copies the source's checkpoint pod to pod, then is claimed and Ready") {
  ForkFixture f;
  f.make_fork({{"sandbox", "src"}, {"checkpoint", "step-3"}});
  f.binds.clear();
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "child");
  CHECK(f.binds == std::vector<std::string>{std::string("198.18.0.10 ") + kPoolToken + " -> " + f.token_of("child")});
  REQUIRE(f.transfers.size() == 1);
  CHECK(f.transfers[0] == ForkTransfer{"198.18.0.10", f.token_of("child"), "198.18.0.9", f.token_of("src"), "step-3"});
  CHECK(f.writes_at_fork == 0);  // nothing says Ready before the copy is in
  CHECK(f.writes() == Writes{"patch pods/py-b", "patch_status sandboxes/child"});  // as any allocation: no extra write
  CHECK(f.get(res::sandboxes, "child")["status"]["phase"] == "Ready");
  CHECK(f.get(res::sandboxes, "src")["status"]["phase"] == "Ready");  // the source is left as it was
}

TEST_CASE("a fork with no checkpoint named asks for a new one") {
  ForkFixture f;
  f.make_fork({{"sandbox", "src"}});
  reconcile_sandbox(*f.ctx, "default", "child");
  REQUIRE(f.transfers.size() == 1);
  CHECK(f.transfers[0].checkpoint.empty());
}

TEST_CASE("a fork whose source cannot be forked fails before any pod is touched") {
  struct Row {
    std::string name;
    std::function<void(ForkFixture&)> setup;
    std::string reason;
  };
  const Row rows[] = {
      {"source missing", [](ForkFixture& f) { f.make_fork({{"sandbox", "nosuch"}}); }, "ForkSourceNotFound"},
      {"source not Ready",
       [](ForkFixture& f) {
         f.set_status(res::sandboxes, "src", {{"phase", "Pending"}});
         f.make_fork({{"sandbox", "src"}});
       },
       "ForkSourceNotReady"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    ForkFixture f;
    r.setup(f);
    f.binds.clear();
    f.kube.reset_counters();
    reconcile_sandbox(*f.ctx, "default", "child");
    CHECK(f.binds.empty());
    CHECK(f.transfers.empty());
    CHECK(f.writes() == Writes{"patch_status sandboxes/child", "create events/child.*"});
    json child = f.get(res::sandboxes, "child");
    CHECK(child["status"]["phase"] == "Failed");
    CHECK(child["status"]["conditions"][0]["reason"] == r.reason);
    CHECK(f.get(res::pods, "py-b")["metadata"]["labels"]["arl.infra.io/pod-state"] == "ready");
  }
}

TEST_CASE("a fork whose copy fails deletes its bound pod and fails with the cause") {
  ForkFixture f;
  f.ctx->fork = [](const ForkTransfer&) -> ForkCopied {
    throw arl::Error(arl::ErrorCode::unavailable, "import into the fork: checkpoint \"step-9\" not found");
  };
  f.make_fork({{"sandbox", "src"}, {"checkpoint", "step-9"}});
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "child");
  CHECK(f.writes() == Writes{"delete pods/py-b", "patch_status sandboxes/child", "create events/child.*"});
  json child = f.get(res::sandboxes, "child");
  CHECK(child["status"]["phase"] == "Failed");
  CHECK(child["status"]["conditions"][0]["reason"] == "ForkFailed");
  const std::string msg = child["status"]["conditions"][0]["message"];
  CHECK(msg.find("step-9") != std::string::npos);
  CHECK(msg.find("py-b") != std::string::npos);
  CHECK(f.metrics.render().find("arl_sandbox_fork_failures_total 1") != std::string::npos);
}
