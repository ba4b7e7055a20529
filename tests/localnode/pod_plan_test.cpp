#include <doctest/doctest.h>

#include "core/error.h"
#include "localnode/pod_plan.h"

using namespace arl::localnode;
using json = nlohmann::json;

namespace {

// The shape docs/design.md "Pod injection" gives an operator-made pod.
json injected_pod() {
  return json::parse(R"({
    "metadata": {"name": "pool-abcde", "namespace": "team", "uid": "u-1", "labels": {"app": "x"}},
    "spec": {
      "volumes": [{"name": "arl-bin", "emptyDir": {}}, {"name": "workspace", "emptyDir": {}},
                  {"name": "cfg", "configMap": {"name": "c"}}],
      "initContainers": [{"name": "arl-init", "image": "arl:local",
                          "command": ["/arl", "sidecar", "copy-self", "/arl-bin/arl"]}],
      "containers": [{
        "name": "executor", "image": "python:3.12",
        "command": ["/arl-bin/arl", "sidecar"],
        "ports": [{"name": "arl", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/health", "port": 8080}},
        "volumeMounts": [{"name": "arl-bin", "mountPath": "/arl-bin"},
                         {"name": "workspace", "mountPath": "/workspace"}],
        "env": [{"name": "ARL_SIDECAR_TOKEN", "valueFrom": {"secretKeyRef": {"name": "arl-pool-pool", "key": "token"}}},
                {"name": "ARL_SIDECAR_WORKDIR", "value": "/workspace"}]
      }]
    }
  })");
}

PlanInputs inputs() { return {"/state/pods/team_pool-abcde", "/usr/local/bin/arl", "198.18.0.7", "198.18.0.1", "n1"}; }

DataLookup secrets(std::map<std::string, std::map<std::string, std::string>> by_name) {
  return [by_name](const std::string& kind, const std::string& name) -> std::optional<std::map<std::string, std::string>> {
    auto it = by_name.find(kind + "/" + name);
    if (it == by_name.end()) return std::nullopt;
    return it->second;
  };
}

std::string env_of(const ProcessPlan& p, const std::string& name) {
  for (const auto& [k, v] : p.env) {
    if (k == name) return v;
  }
  return "<unset>";
}

}  // namespace

TEST_CASE("localnode: the injected executor maps to the local arl binary with its env") {
  auto plan = plan_pod(injected_pod(), inputs(), secrets({{"Secret/arl-pool-pool", {{"token", "s3cret"}}}}));
  CHECK(plan.container == "executor");
  CHECK(plan.argv == std::vector<std::string>{"/usr/local/bin/arl", "sidecar"});
  CHECK(env_of(plan, "ARL_SIDECAR_TOKEN") == "s3cret");
  CHECK(env_of(plan, "ARL_SIDECAR_LISTEN") == "198.18.0.7:8080");
  CHECK(env_of(plan, "ARL_SIDECAR_WORKDIR") == "/workspace");
  CHECK(env_of(plan, "HOSTNAME") == "pool-abcde");
  CHECK(env_of(plan, "PATH").find("/usr/bin") != std::string::npos);
  // arl-bin is not mounted (the binary is mapped); workspace is the pod's own dir.
  REQUIRE(plan.mounts.size() == 1);
  CHECK(plan.mounts[0].source == "/state/pods/team_pool-abcde/volumes/workspace");
  CHECK(plan.mounts[0].target == "/workspace");
  CHECK(plan.working_dir == "/workspace");
  CHECK(plan.readiness.kind == Probe::Kind::http);
  CHECK(plan.readiness.port == 8080);
  CHECK(plan.readiness.path == "/health");
  // Names are unique even though the container also set ARL_SIDECAR_WORKDIR.
  int count = 0;
  for (const auto& [k, v] : plan.env) count += k == "ARL_SIDECAR_WORKDIR";
  CHECK(count == 1);
}

TEST_CASE("localnode: a pod cannot override the listen address of the shared netns") {
  auto pod = injected_pod();
  pod["spec"]["containers"][0]["env"].push_back({{"name", "ARL_SIDECAR_LISTEN"}, {"value", ":8080"}});
  auto plan = plan_pod(pod, inputs(), secrets({{"Secret/arl-pool-pool", {{"token", "t"}}}}));
  CHECK(env_of(plan, "ARL_SIDECAR_LISTEN") == "198.18.0.7:8080");
}

TEST_CASE("localnode: missing secrets and keys are retryable not_found errors naming them") {
  auto pod = injected_pod();
  try {
    plan_pod(pod, inputs(), secrets({}));
    FAIL("expected an error");
  } catch (const arl::Error& e) {
    CHECK(e.code() == arl::ErrorCode::not_found);
    CHECK(std::string(e.what()).find("secret \"arl-pool-pool\" not found") != std::string::npos);
    CHECK(std::string(e.what()).find("ARL_SIDECAR_TOKEN") != std::string::npos);
  }
  CHECK_THROWS_WITH_AS(plan_pod(pod, inputs(), secrets({{"Secret/arl-pool-pool", {{"other", "x"}}}})),
                       doctest::Contains("has no key \"token\""), arl::Error);
  pod["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["optional"] = true;
  auto plan = plan_pod(pod, inputs(), secrets({}));
  CHECK(env_of(plan, "ARL_SIDECAR_TOKEN") == "<unset>");
}

TEST_CASE("localnode: env from configmaps, fieldRefs, envFrom and $(VAR) expansion") {
  json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns"}, {"uid", "u"}, {"labels", {{"team", "rl"}}}}},
              {"spec",
               {{"containers",
                 json::array({{{"name", "c"},
                               {"image", "busybox"},
                               {"command", {"sh", "-c"}},
                               {"args", {"echo $(GREETING) $(MISSING) $$(HOME)"}},
                               {"envFrom", json::array({{{"configMapRef", {{"name", "base"}}}, {"prefix", "B_"}}})},
                               {"env",
                                json::array({{{"name", "NAME"}, {"value", "world"}},
                                             {{"name", "GREETING"}, {"value", "hello-$(NAME)"}},
                                             {{"name", "MODE"},
                                              {"valueFrom", {{"configMapKeyRef", {{"name", "base"}, {"key", "mode"}}}}}},
                                             {{"name", "POD_IP"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "status.podIP"}}}}}},
                                             {{"name", "NS"},
                                              {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.namespace"}}}}}},
                                             {{"name", "TEAM"},
                                              {"valueFrom",
                                               {{"fieldRef", {{"fieldPath", "metadata.labels['team']"}}}}}}})}}})}}}};
  auto plan = plan_pod(pod, inputs(), secrets({{"ConfigMap/base", {{"mode", "fast"}}}}));
  CHECK(plan.argv == std::vector<std::string>{"sh", "-c", "echo hello-world $(MISSING) $(HOME)"});
  CHECK(env_of(plan, "B_mode") == "fast");
  CHECK(env_of(plan, "MODE") == "fast");
  CHECK(env_of(plan, "POD_IP") == "198.18.0.7");
  CHECK(env_of(plan, "NS") == "ns");
  CHECK(env_of(plan, "TEAM") == "rl");
  CHECK(plan.readiness.kind == Probe::Kind::none);
  CHECK(plan.mounts.empty());
  CHECK(plan.working_dir.empty());
}

TEST_CASE("localnode: expand_vars follows Kubernetes' rules") {
  std::map<std::string, std::string> v{{"A", "1"}, {"B", "two"}};
  CHECK(expand_vars("$(A)-$(B)", v) == "1-two");
  CHECK(expand_vars("$(C)", v) == "$(C)");
  CHECK(expand_vars("$$(A)", v) == "$(A)");
  CHECK(expand_vars("cost $5 $", v) == "cost $5 $");
  CHECK(expand_vars("$(A", v) == "$(A");
}

TEST_CASE("localnode: pods the local node cannot run are refused with a reason") {
  json no_containers = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}}, {"spec", {{"containers", json::array()}}}};
  CHECK_THROWS_WITH_AS(plan_pod(no_containers, inputs(), secrets({})), doctest::Contains("no containers"), arl::Error);
  json no_command = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}},
                     {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "nginx"}}})}}}};
  try {
    plan_pod(no_command, inputs(), secrets({}));
    FAIL("expected an error");
  } catch (const arl::Error& e) {
    CHECK(e.code() == arl::ErrorCode::invalid);
    CHECK(std::string(e.what()).find("ns/p container c has no command") != std::string::npos);
  }
  auto bad_mount = injected_pod();
  bad_mount["spec"]["containers"][0]["volumeMounts"].push_back({{"name", "nope"}, {"mountPath", "/x"}});
  CHECK_THROWS_WITH_AS(plan_pod(bad_mount, inputs(), secrets({{"Secret/arl-pool-pool", {{"token", "t"}}}})),
                       doctest::Contains("volumeMount nope"), arl::Error);
}

TEST_CASE("localnode: a container without a command waits with a reason instead of failing") {
  json no_command = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}},
                     {"spec", {{"containers", json::array({{{"name", "web"}, {"image", "nginx:1.25"}}})}}}};
  CHECK(no_command_reason(no_command) ==
        std::string("container web has no command: the local node runs host processes and cannot run the "
                    "entrypoint of image nginx:1.25; set spec.containers[0].command (e.g. [\"sleep\", \"infinity\"])"));
  json empty_command = no_command;
  empty_command["spec"]["containers"][0]["command"] = json::array();
  CHECK(no_command_reason(empty_command).has_value());
  // Pool pods always carry the injected executor's command: they never wait for this.
  CHECK(no_command_reason(injected_pod()) == std::nullopt);
  json no_containers = {{"metadata", {{"name", "p"}, {"namespace", "ns"}}}, {"spec", {{"containers", json::array()}}}};
  CHECK(no_command_reason(no_containers) == std::nullopt);
}

TEST_CASE("localnode: named probe ports, hostPath, extra emptyDirs and read-only mounts") {
  auto pod = injected_pod();
  auto& c = pod["spec"]["containers"][0];
  c["readinessProbe"] = {{"httpGet", {{"path", "ready"}, {"port", "arl"}}}};
  pod["spec"]["volumes"].push_back({{"name", "cache"}, {"emptyDir", {{"medium", "Memory"}}}});
  pod["spec"]["volumes"].push_back({{"name", "data"}, {"hostPath", {{"path", "/srv/data"}}}});
  c["volumeMounts"].push_back({{"name", "cache"}, {"mountPath", "/cache"}});
  c["volumeMounts"].push_back({{"name", "data"}, {"mountPath", "/data"}, {"readOnly", true}});
  c["volumeMounts"].push_back({{"name", "cfg"}, {"mountPath", "/etc/cfg"}});
  c["workingDir"] = "/cache";
  auto plan = plan_pod(pod, inputs(), secrets({{"Secret/arl-pool-pool", {{"token", "t"}}}}));
  CHECK(plan.readiness.port == 8080);
  CHECK(plan.readiness.path == "/ready");
  REQUIRE(plan.mounts.size() == 3);
  CHECK(plan.mounts[1].tmpfs);  // medium: Memory
  CHECK(plan.mounts[1].source.empty());
  CHECK(plan.mounts[1].target == "/cache");
  CHECK_FALSE(plan.mounts[0].tmpfs);
  CHECK(plan.mounts[2].source == "/srv/data");
  CHECK(plan.mounts[2].read_only);
  CHECK(plan.working_dir == "/cache");
  REQUIRE(plan.notes.size() == 1);  // the configMap volume is reported, not mounted
  CHECK(plan.notes[0].find("volume cfg") != std::string::npos);
  c["readinessProbe"] = {{"tcpSocket", {{"port", "nope"}}}};
  CHECK_THROWS_WITH_AS(plan_pod(pod, inputs(), secrets({{"Secret/arl-pool-pool", {{"token", "t"}}}})),
                       doctest::Contains("port name \"nope\""), arl::Error);
}

TEST_CASE("localnode: pod keys and file stems") {
  json pod = {{"metadata", {{"name", "p1"}, {"namespace", "ns1"}}}};
  CHECK(pod_key(pod) == "ns1/p1");
  CHECK(pod_file_stem("ns1", "p1") == "ns1_p1");
}
