#include <doctest/doctest.h>

#include "core/error.h"
#include "core/types.h"
#include "core/yaml.h"

using namespace arl::core;

namespace {
const char* kTaskYaml = R"(apiVersion: arl.infra.io/v1alpha1
kind: Task
metadata:
  name: t1
  namespace: default
  labels: {team: rl}
  managedFields: [{manager: kubectl}]
spec:
  sandboxRef: sb1
  timeout: 2m
  retries: 1
  steps:
    - name: write
      type: FilePatch
      path: hello.txt
      content: "hi\n"
    - name: run
      type: Command
      command: [sh, -c, "cat hello.txt"]
      env: {PORT: 8080, MODE: "fast"}
      background: true
status:
  state: Succeeded
  exitCode: 0
  steps:
    - {name: write, state: Succeeded}
    - {name: run, state: Succeeded, exitCode: 0, pid: 42}
)";
}

TEST_CASE("task round-trips through JSON without losing fields") {
  auto docs = parse_yaml_documents(kTaskYaml);
  REQUIRE(docs.size() == 1);
  Task t = task_from_json(docs[0].value);
  CHECK(t.metadata.name == "t1");
  CHECK(t.metadata.labels.at("team") == "rl");
  CHECK(t.spec.timeout == "2m");
  CHECK(t.spec.retries == 1);
  REQUIRE(t.spec.steps.size() == 2);
  CHECK(t.spec.steps[0].content == "hi\n");
  CHECK(t.spec.steps[1].command == std::vector<std::string>{"sh", "-c", "cat hello.txt"});
  CHECK(t.spec.steps[1].env.at("PORT") == "8080");
  CHECK(t.spec.steps[1].background);
  CHECK(t.status.exit_code == 0);  // 0 is present, not absent
  CHECK(t.status.steps[1].pid == 42);

  Task again = task_from_json(to_json(t));
  CHECK(again.spec.steps == t.spec.steps);
  CHECK(again.status == t.status);
  // metadata the typed view does not interpret is kept verbatim
  CHECK(to_json(again)["metadata"]["managedFields"][0]["manager"] == "kubectl");
}

TEST_CASE("warm pool keeps its pod template as JSON, unknown fields included") {
  auto docs = parse_yaml_documents(R"(
apiVersion: arl.infra.io/v1alpha1
kind: WarmPool
metadata: {name: python-pool}
spec:
  replicas: 3
  template:
    metadata: {annotations: {a: b}}
    spec:
      runtimeClassName: gvisor
      containers: [{name: py, image: "python:3.12-slim", resources: {limits: {cpu: "1"}}}]
)");
  WarmPool p = warm_pool_from_json(docs.at(0).value);
  CHECK(p.spec.replicas == 3);
  CHECK(p.spec.template_["spec"]["runtimeClassName"] == "gvisor");
  CHECK(to_json(p)["spec"]["template"] == docs[0].value["spec"]["template"]);
}

TEST_CASE("sandbox defaults and round trip") {
  Sandbox s = sandbox_from_json(nlohmann::json{{"metadata", {{"name", "s"}}}, {"spec", {{"poolRef", "p"}}}});
  CHECK_FALSE(s.spec.keep_alive);
  CHECK_FALSE(s.spec.ttl_seconds_after_finished);
  s.status.phase = "Ready";
  s.status.pod_ip = "198.18.0.2";
  CHECK(sandbox_from_json(to_json(s)).status == s.status);
}

TEST_CASE("task defaults") {
  Task t = task_from_json(nlohmann::json{{"spec", {{"steps", {{{"name", "a"}, {"type", "Command"}, {"command", {"true"}}}}}}}});
  apply_defaults(t);
  CHECK(t.spec.timeout == "30s");
  CHECK(t.spec.retries == 0);
}

TEST_CASE("a step's workDir is kept as written; unset stays empty for the sidecar to resolve") {
  // "" is the sandbox's working dir (spec.workingDir), which only the sidecar
  // knows; filling in /workspace here ran steps outside it.
  struct Row {
    nlohmann::json step;
    std::string work_dir;
  };
  for (const auto& row : std::vector<Row>{
           {{{"name", "a"}, {"type", "Command"}, {"command", {"pwd"}}}, ""},
           {{{"name", "a"}, {"type", "Command"}, {"command", {"pwd"}}, {"workDir", ""}}, ""},
           {{{"name", "a"}, {"type", "Command"}, {"command", {"pwd"}}, {"workDir", "/workspace"}}, "/workspace"},
           {{{"name", "a"}, {"type", "Command"}, {"command", {"pwd"}}, {"workDir", "sub/dir"}}, "sub/dir"},
           {{{"name", "a"}, {"type", "FilePatch"}, {"path", "f"}, {"content", ""}}, ""},
       }) {
    CAPTURE(row.step.dump());
    Task t = task_from_json(nlohmann::json{{"spec", {{"steps", {row.step}}}}});
    apply_defaults(t);
    CHECK(t.spec.steps[0].work_dir == row.work_dir);
    CHECK(to_json(t)["spec"]["steps"][0].value("workDir", "") == row.work_dir);
  }
}

TEST_CASE("wrong JSON types are errors naming the field") {
  auto expect = [](const nlohmann::json& j, const std::string& field) {
    try {
      task_from_json(j);
      FAIL("accepted");
    } catch (const arl::Error& e) {
      CHECK(std::string(e.what()).rfind(field, 0) == 0);
    }
  };
  expect({{"spec", {{"retries", "two"}}}}, "spec.retries: must be an integer");
  expect({{"spec", {{"steps", {{{"name", "a"}, {"command", "ls"}}}}}}}, "spec.steps[0].command: must be a list");
  expect({{"spec", {{"steps", {{{"name", "a"}, {"command", {"ls", 3}}}}}}}}, "spec.steps[0].command[1]: must be a string");
  expect({{"spec", "x"}}, "spec: must be an object");
}

TEST_CASE("set_condition stamps now only when the status changes") {
  const TimePoint t0 = std::chrono::sys_days{std::chrono::year{2024} / 1 / 1};
  const TimePoint t1 = t0 + std::chrono::hours(1), t2 = t0 + std::chrono::hours(2);
  std::vector<Condition> cs;
  CHECK(set_condition(cs, {"Ready", "False", "NoIdlePod", "waiting", "", 3}, t0));
  CHECK(cs[0].last_transition_time == "2024-01-01T00:00:00Z");
  CHECK(cs[0].observed_generation == 3);
  CHECK_FALSE(set_condition(cs, {"Ready", "False", "NoIdlePod", "waiting", "", 3}, t1));
  CHECK(set_condition(cs, {"Ready", "False", "Other", "x", "", 3}, t1));  // same status: time kept
  CHECK(cs[0].last_transition_time == "2024-01-01T00:00:00Z");
  CHECK(set_condition(cs, {"Ready", "False", "Other", "x", "", 4}, t1));  // a new generation is a change
  CHECK(cs[0].observed_generation == 4);
  CHECK(set_condition(cs, {"Ready", "True", "Allocated", "", "", 4}, t2));
  CHECK(cs[0].last_transition_time == "2024-01-01T02:00:00Z");
  CHECK(set_condition(cs, {"Ready", "False", "Given", "", "2020-01-01T00:00:00Z", 4}, t2));  // an explicit time wins
  CHECK(cs[0].last_transition_time == "2020-01-01T00:00:00Z");
  CHECK(cs.size() == 1);
}

TEST_CASE("observedGeneration round-trips in sandbox and task status") {
  json sb{{"metadata", {{"name", "s"}}}, {"status", {{"phase", "Ready"}, {"observedGeneration", 2}}}};
  CHECK(sandbox_from_json(sb).status.observed_generation == 2);
  CHECK(to_json(sandbox_from_json(sb).status)["observedGeneration"] == 2);
  json t{{"metadata", {{"name", "t"}}}, {"status", {{"state", "Running"}, {"observedGeneration", 5}}}};
  CHECK(task_from_json(t).status.observed_generation == 5);
  CHECK(to_json(task_from_json(t).status)["observedGeneration"] == 5);
}

TEST_CASE("rfc3339 timestamps") {
  CHECK(parse_rfc3339("1970-01-01T00:01:40Z") == 100);
  CHECK_FALSE(parse_rfc3339("yesterday"));
  CHECK(parse_rfc3339(now_rfc3339()).has_value());
}

TEST_CASE("format_rfc3339_fraction: MicroTime and log precision, truncated not rounded") {
  namespace core = arl::core;
  using namespace std::chrono;
  core::TimePoint t = system_clock::time_point(seconds(1893456000)) + microseconds(123456) + nanoseconds(789);
  CHECK(core::format_rfc3339_fraction(t, 6) == "2030-01-01T00:00:00.123456Z");
  CHECK(core::format_rfc3339_fraction(t, 3) == "2030-01-01T00:00:00.123Z");
  CHECK(core::format_rfc3339_fraction(t, 9) == "2030-01-01T00:00:00.123456789Z");
  CHECK(core::format_rfc3339_fraction(system_clock::time_point(seconds(1893456000)), 6) == "2030-01-01T00:00:00.000000Z");
}

TEST_CASE("a step's usage is camelCase in the Task status and round-trips; absent stays absent") {
  Task t;
  t.metadata.name = "t";
  t.status.steps.push_back({"w", "Succeeded", std::nullopt, "", "", false, std::nullopt, "", "", std::nullopt});
  t.status.steps.push_back({"r", "Succeeded", 0, "", "", false, std::nullopt, "", "", Usage{12.5, 7.25, 1.5, 20480}});
  json j = to_json(t);
  CHECK_FALSE(j["status"]["steps"][0].contains("usage"));
  CHECK(j["status"]["steps"][1]["usage"] ==
        json{{"wallMs", 12.5}, {"cpuUserMs", 7.25}, {"cpuSystemMs", 1.5}, {"maxRssKb", 20480}});
  CHECK(task_from_json(j).status == t.status);
}
