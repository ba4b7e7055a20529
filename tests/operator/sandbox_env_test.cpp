#include <doctest/doctest.h>

#include "core/base64.h"
#include "operator/sandbox_env.h"
#include "operator_fixture.h"

using namespace arl::op;
using namespace arl::op::testing;
using nlohmann::json;

namespace {

// A Secret "creds" {api-key: s3cret-value} and a ConfigMap "cfg" {seed: 42}
// exist; everything else is missing.
std::optional<json> lookup(bool secret, const std::string& name) {
  if (secret && name == "creds") return json{{"data", {{"api-key", arl::core::base64_encode("s3cret-value")}}}};
  if (!secret && name == "cfg") return json{{"data", {{"seed", "42"}}}, {"binaryData", {{"blob", arl::core::base64_encode("b")}}}};
  return std::nullopt;
}

arl::core::SandboxSettingsSpec sandbox(const char* spec) {
  return arl::core::sandbox_settings_from_json(json{{"metadata", {{"name", "sb"}, {"namespace", "ns1"}}}, {"spec", json::parse(spec)}});
}

}  // namespace

TEST_CASE("resolve_settings: literals, secrets, configmaps, optional and missing references") {
  struct Row {
    const char* what;
    const char* spec;
    SandboxSettings settings;
    std::optional<EnvFailure> failure;
  };
  const Row rows[] = {
      {"no env", R"({})", {}, std::nullopt},
      {"literals, an empty value, the working dir", R"({"env":[{"name":"A","value":"1"},{"name":"E"}],"workingDir":"repo"})",
       {{{"A", "1"}, {"E", ""}}, "repo"}, std::nullopt},
      {"secret, configmap data and binaryData",
       R"({"env":[{"name":"K","valueFrom":{"secretKeyRef":{"name":"creds","key":"api-key"}}},
                  {"name":"S","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"seed"}}},
                  {"name":"B","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"blob"}}}]})",
       {{{"K", "s3cret-value"}, {"S", "42"}, {"B", "b"}}, ""}, std::nullopt},
      {"optional missing secret, key and configmap are skipped",
       R"({"env":[{"name":"A","value":"1"},
                  {"name":"X","valueFrom":{"secretKeyRef":{"name":"nope","key":"k","optional":true}}},
                  {"name":"Y","valueFrom":{"secretKeyRef":{"name":"creds","key":"nope","optional":true}}},
                  {"name":"Z","valueFrom":{"configMapKeyRef":{"name":"nope","key":"k","optional":true}}}]})",
       {{{"A", "1"}}, ""}, std::nullopt},
      {"missing secret", R"({"env":[{"name":"A","value":"1"},{"name":"K","valueFrom":{"secretKeyRef":{"name":"gone","key":"k"}}}]})", {},
       EnvFailure{"EnvSecretNotFound",
                  "spec.env[1] (K): secret \"gone\" not found in namespace ns1; create it or mark the reference optional"}},
      {"missing configmap", R"({"env":[{"name":"S","valueFrom":{"configMapKeyRef":{"name":"gone","key":"k"}}}]})", {},
       EnvFailure{"EnvConfigMapNotFound",
                  "spec.env[0] (S): configmap \"gone\" not found in namespace ns1; create it or mark the reference optional"}},
      {"missing key", R"({"env":[{"name":"K","valueFrom":{"secretKeyRef":{"name":"creds","key":"other"}}}]})", {},
       EnvFailure{"EnvKeyNotFound", "spec.env[0] (K): secret \"creds\" has no key \"other\"; add it or mark the reference optional"}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    ResolvedSettings got = resolve_settings(sandbox(r.spec), "ns1", lookup);
    CHECK(got.failure == r.failure);
    if (!r.failure) CHECK(got.settings == r.settings);
    if (got.failure) CHECK(got.failure->message.find("s3cret-value") == std::string::npos);
  }
}

TEST_CASE("env object cache: one GET per object within the ttl, absent objects cached too") {
  EnvObjectCache cache(std::chrono::milliseconds(2000));
  int gets = 0;
  auto fetch = [&] {
    ++gets;
    return std::optional<json>(json{{"metadata", {{"name", "creds"}}}, {"data", {{"k", "dg=="}}}});
  };
  const auto t0 = EnvObjectCache::Clock::time_point{};
  auto a = cache.get("secrets/ns/creds", t0, fetch);
  auto b = cache.get("secrets/ns/creds", t0 + std::chrono::milliseconds(1999), fetch);
  CHECK(gets == 1);
  CHECK(*a == json{{"data", {{"k", "dg=="}}}});  // only what resolution reads
  CHECK(a == b);
  cache.get("secrets/ns/creds", t0 + std::chrono::milliseconds(2000), fetch);
  CHECK(gets == 2);
  int misses = 0;
  auto none = [&] {
    ++misses;
    return std::optional<json>();
  };
  CHECK_FALSE(cache.get("configmaps/ns/x", t0, none));
  CHECK_FALSE(cache.get("configmaps/ns/x", t0, none));
  CHECK(misses == 1);
}

namespace {

json env_sandbox(Fixture& f, json spec_extra) {
  f.ctx->tokens.put("default/py", "pool-token-0123456789");
  json spec{{"poolRef", "py"}, {"keepAlive", true}};
  spec.update(spec_extra);
  return f.kube.create(res::sandboxes, "default", json{{"metadata", {{"name", "sb"}, {"namespace", "default"}}}, {"spec", spec}});
}

const arl::core::TimePoint kT0 = at_rfc3339("2030-01-01T00:00:00Z");

}  // namespace

TEST_CASE("allocation hands the resolved env and working dir to the bind, with no extra write") {
  Fixture f;
  f.at(kT0);
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", true);
  f.kube.create(res::secrets, "default",
                json{{"metadata", {{"name", "creds"}}}, {"data", {{"api-key", arl::core::base64_encode("s3cret-value")}}}});
  env_sandbox(f, json::parse(R"({"env":[{"name":"A","value":"1"},
      {"name":"K","valueFrom":{"secretKeyRef":{"name":"creds","key":"api-key"}}}],"workingDir":"repo"})"));
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes() == Writes{"patch pods/py-a", "patch_status sandboxes/sb"});
  REQUIRE(f.bind_settings.size() == 1);
  CHECK(f.bind_settings[0] == SandboxSettings{{{"A", "1"}, {"K", "s3cret-value"}}, "repo"});
  CHECK(f.get(res::sandboxes, "sb").dump().find("s3cret-value") == std::string::npos);
}

TEST_CASE("a missing secret fails the sandbox before any claim: one status write, one Warning, the pod untouched") {
  Fixture f;
  f.at(kT0);
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", true);
  env_sandbox(f, json::parse(R"({"env":[{"name":"K","valueFrom":{"secretKeyRef":{"name":"gone","key":"k"}}}]})"));
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes() == Writes{"patch_status sandboxes/sb", "create events/sb.*"});
  CHECK(f.binds.empty());
  json st = f.get(res::sandboxes, "sb")["status"];
  CHECK(st["phase"] == "Failed");
  CHECK(st["conditions"][0]["reason"] == "EnvSecretNotFound");
  CHECK(st["conditions"][0]["message"] ==
        "spec.env[0] (K): secret \"gone\" not found in namespace default; create it or mark the reference optional");
  CHECK(f.body("create", "events", f.kube.write_log().back().name)["reason"] == "EnvSecretNotFound");
  json pod = f.get(res::pods, "py-a");
  CHECK(pod["metadata"]["labels"]["arl.infra.io/pod-state"] == "ready");
  CHECK_FALSE(pod["metadata"].contains("ownerReferences"));

  // Steady state: Failed stays, no more writes.
  f.kube.reset_counters();
  reconcile_sandbox(*f.ctx, "default", "sb");
  CHECK(f.writes() == Writes{});
}

TEST_CASE("a restarted sidecar is bound again with the sandbox's env") {
  Fixture f;
  f.at(kT0);
  f.make_pool("py", 1);
  f.make_pod("py-a", "py", true);
  f.kube.patch(res::pods, "default", "py-a", arl::k8s::PatchType::merge, json{{"spec", {{"containers", {{{"name", "main"}}}}}}});
  f.kube.create(arl::k8s::Resource{"", "v1", "configmaps", "ConfigMap", true}, "default", json{{"metadata", {{"name", "cfg"}}}, {"data", {{"seed", "42"}}}});
  env_sandbox(f, json::parse(R"({"env":[{"name":"S","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"seed"}}}],"workingDir":"w"})"));
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.bind_settings.size() == 1);
  // The sidecar container restarted once and is Ready again.
  f.set_status(res::pods, "py-a",
               json{{"phase", "Running"},
                    {"podIP", "198.18.0.9"},
                    {"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
                    {"containerStatuses", {{{"name", "main"}, {"restartCount", 1}, {"ready", true}}}}});
  reconcile_sandbox(*f.ctx, "default", "sb");
  REQUIRE(f.bind_settings.size() == 2);
  CHECK(f.bind_settings[1] == SandboxSettings{{{"S", "42"}}, "w"});
}
