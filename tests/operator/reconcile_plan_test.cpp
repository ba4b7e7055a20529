// The pure decisions of the three reconcilers: no server, no clock; each row is observed state -> plan.
#include <doctest/doctest.h>

#include "operator/pod_state.h"
#include "operator/sandbox_plan.h"
#include "operator/task_plan.h"
#include "operator/ttl_plan.h"

using namespace arl::op;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

const arl::core::TimePoint T0{std::chrono::seconds(arl::core::parse_rfc3339("2030-01-01T00:00:00Z").value())};

Cache::Obj idle_pod(const std::string& name, const std::string& created, bool ready = true) {
  json p{{"metadata",
          {{"name", name}, {"resourceVersion", "7"}, {"creationTimestamp", created},
           {"labels", {{"arl.infra.io/warmpool", "py"}, {"arl.infra.io/pod-state", "ready"}}}}},
         {"status", {{"phase", "Running"}, {"podIP", "10.0.0.1"}}}};
  if (ready) p["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}}};
  return std::make_shared<const json>(p);
}

json sandbox(json status = json::object(), json spec_extra = json::object()) {
  json spec{{"poolRef", "py"}};
  spec.update(spec_extra);
  return {{"apiVersion", "arl.infra.io/v1alpha1"}, {"kind", "Sandbox"},
          {"metadata", {{"name", "sb"}, {"namespace", "default"}, {"uid", "u1"}, {"generation", 2}}},
          {"spec", spec}, {"status", status}};
}

std::vector<std::string> claimed(const SandboxPlan& p) {
  std::vector<std::string> out;
  for (const auto& c : p.claims) out.push_back(c.pod);
  return out;
}

}  // namespace

TEST_CASE("deadline_after: none, not yet (requeue rounded up plus a margin), passed") {
  CHECK_FALSE(deadline_after(std::nullopt, "2030-01-01T00:00:00Z", T0));
  CHECK_FALSE(deadline_after(10, "", T0));
  CHECK_FALSE(deadline_after(10, "yesterday", T0));
  CHECK(deadline_after(10, "2030-01-01T00:00:00Z", T0) == Deadline{false, milliseconds(10050)});
  CHECK(deadline_after(10, "2030-01-01T00:00:00Z", T0 + std::chrono::microseconds(9999500)) == Deadline{false, milliseconds(51)});
  CHECK(deadline_after(10, "2030-01-01T00:00:00Z", T0 + std::chrono::seconds(10)) == Deadline{true, milliseconds(0)});
  CHECK(deadline_after(0, "2030-01-01T00:00:00Z", T0) == Deadline{true, milliseconds(0)});
}

TEST_CASE("plan_sandbox: a Pending sandbox claims idle ready pods of its pool, oldest first") {
  SandboxView v{sandbox(), std::nullopt, {}, true,
                {idle_pod("py-c", "2030-01-01T00:00:02Z"), idle_pod("py-b", "2030-01-01T00:00:01Z"),
                 idle_pod("py-a", "2030-01-01T00:00:01Z"), idle_pod("py-d", "2029-01-01T00:00:00Z", false)}};
  SandboxPlan p = plan_sandbox(v, T0);
  CHECK(claimed(p) == std::vector<std::string>{"py-a", "py-b", "py-c"});  // starting py-d is no candidate
  auto patch = claim_patch(v.object);
  // Applies only while the pod is idle; labels it (`kubectl get pods -l sandbox=S` too) and makes the sandbox its owner.
  REQUIRE(patch.size() == 5);
  CHECK(patch[0] == json{{"op", "test"}, {"path", "/metadata/labels/arl.infra.io~1pod-state"}, {"value", "ready"}});
  CHECK(patch[1] == json{{"op", "replace"}, {"path", "/metadata/labels/arl.infra.io~1pod-state"}, {"value", "allocated"}});
  CHECK(patch[2] == json{{"op", "add"}, {"path", "/metadata/labels/arl.infra.io~1sandbox"}, {"value", "sb"}});
  CHECK(patch[3] == json{{"op", "add"}, {"path", "/metadata/labels/sandbox"}, {"value", "sb"}});
  CHECK(patch[4]["path"] == "/metadata/ownerReferences");
  CHECK(patch[4]["value"][0]["uid"] == "u1");
  // if every claim is lost: the NoIdlePod wait
  REQUIRE(p.status);
  CHECK(p.status->phase == "Pending");
  CHECK(p.status->observed_generation == 2);
  CHECK(p.status->conditions[0].reason == "NoIdlePod");
  CHECK(p.event == EventSpec{"Normal", "NoIdlePod", "waiting for an idle ready pod in warmpool \"py\" (scale it up if this persists)"});
  CHECK(p.enqueue_pool);
  CHECK(p.requeue_after == milliseconds(2000));
}

TEST_CASE("plan_sandbox: pods of other pools and busy pods are not candidates") {
  auto other = std::make_shared<json>(*idle_pod("q-a", "2030-01-01T00:00:00Z"));
  (*other)["metadata"]["labels"]["arl.infra.io/warmpool"] = "other";
  auto no_ip = std::make_shared<json>(*idle_pod("py-x", "2030-01-01T00:00:00Z"));
  (*no_ip)["status"].erase("podIP");
  SandboxView v{sandbox(), std::nullopt, {}, true, {other, no_ip}};
  CHECK(plan_sandbox(v, T0).claims.empty());
}

TEST_CASE("plan_allocated: Ready on the pod, timestamps at now, TTL from now") {
  SandboxPlan p = plan_allocated(sandbox({}, {{"ttlSecondsAfterFinished", 30}}), *idle_pod("py-a", ""), T0);
  REQUIRE(p.status);
  CHECK(p.status->phase == "Ready");
  CHECK(p.status->pod_name == "py-a");
  CHECK(p.status->pod_ip == "10.0.0.1");
  CHECK(p.status->allocated_at == "2030-01-01T00:00:00Z");
  CHECK(p.status->conditions[0] == arl::core::Condition{"Ready", "True", "Allocated", "pod py-a", "2030-01-01T00:00:00Z", 2});
  CHECK(p.allocated);
  CHECK(p.enqueue_pool);
  CHECK_FALSE(p.event);  // no Event on the happy path
  CHECK(p.requeue_after == milliseconds(30050));
}

TEST_CASE("plan_task: terminal, busy, restarted, missing, unavailable, ready") {
  auto task = [](json status, json spec_extra = json::object()) {
    json spec{{"sandboxRef", "sb"}, {"steps", json::array()}};
    spec.update(spec_extra);
    return json{{"metadata", {{"name", "t"}, {"namespace", "default"}, {"generation", 1}, {"creationTimestamp", "2030-01-01T00:00:00Z"}}},
                {"spec", spec}, {"status", status}};
  };
  const auto grace = std::chrono::seconds(30);
  struct Row {
    const char* name;
    TaskView view;
    arl::core::TimePoint now;
    std::string failed_reason;  // "" = no Failed status
    bool run, del;
    milliseconds requeue;
    std::string wait_reason = "";  // a Pending status saying why it waits
  };
  const json ready_sb = sandbox({{"phase", "Ready"}});
  const std::vector<Row> rows = {
      {"succeeded, TTL 5 s, 1 s later", {task({{"state", "Succeeded"}, {"completedAt", "2030-01-01T00:00:00Z"}}, {{"ttlSecondsAfterFinished", 5}})},
       T0 + std::chrono::seconds(1), "", false, false, milliseconds(4050)},
      {"failed, TTL 5 s, 5 s later", {task({{"state", "Failed"}, {"completedAt", "2030-01-01T00:00:00Z"}}, {{"ttlSecondsAfterFinished", 5}})},
       T0 + std::chrono::seconds(5), "", false, true, milliseconds(0)},
      {"busy sandbox: waits for the running task", {task(json::object()), true, ready_sb}, T0, "", false, false, milliseconds(0),
       "WaitingForTask"},
      {"busy sandbox, already saying so: no write",
       {task({{"state", "Pending"}, {"reason", "WaitingForTask"}, {"message", "another task of sandbox \"sb\" is running"}}), true, ready_sb},
       T0, "", false, false, milliseconds(0)},
      {"busy running itself: nothing", {task({{"state", "Running"}, {"attempts", 1}}), true, ready_sb, true}, T0, "", false, false,
       milliseconds(0)},
      {"busy with itself before its Running write: no Pending write", {task(json::object()), true, ready_sb, true}, T0, "", false, false,
       milliseconds(0)},
      {"Running, no retry left", {task({{"state", "Running"}, {"attempts", 1}}), false, ready_sb}, T0, "OperatorRestarted", false, false,
       milliseconds(0)},
      {"Running, a retry left", {task({{"state", "Running"}, {"attempts", 1}}, {{"retries", 1}}), false, ready_sb}, T0, "", true, false,
       milliseconds(0)},
      {"no sandbox, 29 s", {task(json::object())}, T0 + std::chrono::seconds(29), "", false, false, milliseconds(1050), "WaitingForSandbox"},
      {"no sandbox, 30 s", {task(json::object())}, T0 + std::chrono::seconds(30), "SandboxMissing", false, false, milliseconds(0)},
      {"sandbox Failed", {task(json::object()), false, sandbox({{"phase", "Failed"}})}, T0, "SandboxUnavailable", false, false,
       milliseconds(0)},
      {"sandbox Pending", {task(json::object()), false, sandbox({{"phase", "Pending"}})}, T0, "", false, false, kWaitingTaskRecheck,
       "SandboxNotReady"},
      {"sandbox Bound", {task(json::object()), false, sandbox({{"phase", "Bound"}})}, T0, "", true, false, milliseconds(0)},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    TaskPlan p = plan_task(row.view, grace, row.now);
    std::string want_reason = row.failed_reason.empty() ? row.wait_reason : row.failed_reason;
    CHECK((p.status ? p.status->reason : "") == want_reason);
    if (p.status) CHECK(p.status->state == (row.failed_reason.empty() ? "Pending" : "Failed"));
    CHECK((p.event ? p.event->reason : "") == row.failed_reason);  // a wait is no Event
    CHECK(p.run == row.run);
    CHECK(p.delete_task == row.del);
    CHECK(p.requeue_after == row.requeue);
  }
}

TEST_CASE("first_in_line: the oldest unfinished task of the sandbox goes first, names break ties") {
  auto t = [](const std::string& name, const std::string& created, const std::string& state = "", const std::string& sb = "sb") {
    return std::make_shared<const json>(json{{"metadata", {{"name", name}, {"creationTimestamp", created}}},
                                             {"spec", {{"sandboxRef", sb}}},
                                             {"status", {{"state", state}}}});
  };
  auto me = arl::core::task_from_json(*t("m", "2030-01-01T00:00:05Z"));
  CHECK(first_in_line(me, {t("m", "2030-01-01T00:00:05Z")}));
  CHECK_FALSE(first_in_line(me, {t("a", "2030-01-01T00:00:01Z")}));
  CHECK(first_in_line(me, {t("a", "2030-01-01T00:00:01Z", "Succeeded")}));
  CHECK(first_in_line(me, {t("a", "2030-01-01T00:00:01Z", "", "other")}));
  CHECK_FALSE(first_in_line(me, {t("b", "2030-01-01T00:00:05Z")}));
  CHECK(first_in_line(me, {t("z", "2030-01-01T00:00:05Z")}));
}

namespace {

// An allocated pod as the cache holds it (trim_cached_pod): its sidecar runs in container "main".
json allocated_pod(int64_t sidecar_restarts, bool ready = true, const std::string& phase = "Running") {
  json p{{"metadata", {{"name", "py-a"}, {"uid", "pod-uid-1"},
                       {"labels", {{"arl.infra.io/warmpool", "py"}, {"arl.infra.io/pod-state", "allocated"}}}}},
         {"spec", {{"containers", {{{"name", "main"}}}}}},
         {"status", {{"phase", phase}, {"podIP", "198.19.128.7"},
                     {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}},
                     {"containerStatuses", {{{"name", "main"}, {"restartCount", sidecar_restarts}}}}}}};
  return p;
}

}  // namespace

TEST_CASE("plan_sandbox: a sidecar restarted since this process bound it is bound again once Ready, with no API write") {
  const json on_pod{{"podName", "py-a"}, {"podIP", "198.19.128.7"}, {"allocatedAt", "2030-01-01T00:00:00Z"}};
  auto status = [&](const std::string& phase) {
    json s = on_pod;
    s["phase"] = phase;
    return s;
  };
  const SidecarBind again1{"py-a", "198.19.128.7", "pod-uid-1", 1};
  const SidecarBind again3{"py-a", "198.19.128.7", "pod-uid-1", 3};
  struct Row {
    const char* name;
    json sandbox;
    json pod;
    int64_t bound_at;
    bool run_in_progress;
    std::optional<SidecarBind> rebind;
    milliseconds requeue;
    std::string status_phase = "";  // a status write to this phase; "" = none
    std::string delete_pod = "";
  };
  const std::vector<Row> rows = {
      {"never restarted", sandbox(status("Ready")), allocated_pod(0), 0, false, std::nullopt, milliseconds(0)},
      {"restarted, Ready again: bound again", sandbox(status("Ready")), allocated_pod(1), 0, false, again1, milliseconds(0)},
      {"restarted, bound again already", sandbox(status("Ready")), allocated_pod(1), 1, false, std::nullopt, milliseconds(0)},
      {"restarted twice more since", sandbox(status("Ready")), allocated_pod(3), 1, false, again3, milliseconds(0)},
      {"restarted, not Ready yet: wait for its probe", sandbox(status("Ready")), allocated_pod(1, false), 0, false, std::nullopt,
       milliseconds(1000)},
      {"restarted, not Ready, idle TTL far: the sooner requeue", sandbox(status("Ready"), {{"ttlSecondsAfterFinished", 30}}),
       allocated_pod(1, false), 0, false, std::nullopt, milliseconds(1000)},
      {"restarted, idle TTL far: bound again, requeue at the TTL", sandbox(status("Ready"), {{"ttlSecondsAfterFinished", 30}}),
       allocated_pod(1), 0, false, again1, milliseconds(30050)},
      {"operator restarted (no record), count above 0: bound once more", sandbox(status("Ready")), allocated_pod(2), 0, false,
       SidecarBind{"py-a", "198.19.128.7", "pod-uid-1", 2}, milliseconds(0)},
      {"Bound, its task running", sandbox(status("Bound")), allocated_pod(1), 0, true, again1, milliseconds(0)},
      {"Bound, no run, keepAlive: back to Ready and bound again", sandbox(status("Bound"), {{"keepAlive", true}}), allocated_pod(1), 0,
       false, again1, milliseconds(0), "Ready"},
      {"Bound, no run, keepAlive=false: the pod goes, no bind", sandbox(status("Bound"), {{"keepAlive", false}}), allocated_pod(1), 0,
       false, std::nullopt, milliseconds(0), "Released", "py-a"},
      {"the pod failed: PodLost, no bind", sandbox(status("Ready")), allocated_pod(1, false, "Failed"), 0, false, std::nullopt,
       milliseconds(0), "Failed"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    SandboxView v{row.sandbox, row.pod, {}, true, {}, row.run_in_progress, row.bound_at};
    SandboxPlan p = plan_sandbox(v, T0);
    CHECK(p.rebind == row.rebind);
    CHECK_FALSE(p.bind);
    CHECK(p.claims.empty());
    CHECK(p.requeue_after == row.requeue);
    CHECK((p.status ? p.status->phase : "") == row.status_phase);
    CHECK(p.delete_pod == row.delete_pod);
    CHECK_FALSE(p.delete_sandbox);
  }
}

TEST_CASE("plan_sandbox: a Ready sandbox's idle TTL does not fire while a run too short to be written Bound goes on") {
  const json st{{"phase", "Ready"}, {"podName", "py-a"}, {"podIP", "198.19.128.7"}, {"allocatedAt", "2029-12-31T23:59:00Z"}};
  const json sb = sandbox(st, {{"ttlSecondsAfterFinished", 5}});
  SandboxPlan idle = plan_sandbox(SandboxView{sb, allocated_pod(0), {}, true, {}, false, 0}, T0);
  CHECK(idle.delete_sandbox);
  SandboxPlan running = plan_sandbox(SandboxView{sb, allocated_pod(0), {}, true, {}, true, 0}, T0);
  CHECK_FALSE(running.delete_sandbox);
  CHECK(running.requeue_after == milliseconds(0));  // the run's end enqueues the sandbox
  CHECK_FALSE(running.status);
}

TEST_CASE("plan_allocated: status.workDir is the sandbox's working dir, under the workdir") {
  const std::vector<std::pair<json, std::string>> rows = {
      {json::object(), "/workspace"},
      {{{"workingDir", "repo/src"}}, "/workspace/repo/src"},
      {{{"workingDir", "./repo//src/"}}, "/workspace/repo/src"},
      {{{"workingDir", "/workspace/job"}}, "/workspace/job"},
      {{{"workingDir", "/workspace"}}, "/workspace"},
  };
  for (const auto& [spec, want] : rows) {
    INFO(spec.dump());
    CHECK(plan_allocated(sandbox({}, spec), allocated_pod(0), T0).status->work_dir == want);
  }
}

TEST_CASE("plan_allocated: the bind carries the pod's uid and the sidecar restart count it binds at") {
  SandboxPlan p = plan_allocated(sandbox(), allocated_pod(2), T0);
  CHECK(p.bind == SidecarBind{"py-a", "198.19.128.7", "pod-uid-1", 2});
  CHECK_FALSE(p.rebind);
}

TEST_CASE("sidecar_restarts reads the restart count of the first container, also from the trimmed cache copy") {
  json full = json::parse(R"({
    "metadata": {"name": "py-a", "uid": "u", "annotations": {"a": "b"}, "labels": {"arl.infra.io/warmpool": "py"}},
    "spec": {"initContainers": [{"name": "arl-init"}], "containers": [{"name": "main", "image": "python"}, {"name": "extra"}]},
    "status": {"phase": "Running", "podIP": "198.19.128.7", "hostIP": "198.19.128.1",
               "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True", "lastProbeTime": null}],
               "initContainerStatuses": [{"name": "arl-init", "restartCount": 0}],
               "containerStatuses": [{"name": "extra", "restartCount": 7, "ready": true},
                                     {"name": "main", "restartCount": 2, "ready": true, "state": {"running": {}}}]}})");
  CHECK(sidecar_restarts(full) == 2);  // not "extra"'s 7: statuses are sorted by name, not spec order
  json cached = full;
  trim_cached_pod(cached);
  CHECK(cached == json::parse(R"({
    "metadata": {"name": "py-a", "uid": "u", "labels": {"arl.infra.io/warmpool": "py"}},
    "spec": {"containers": [{"name": "main"}]},
    "status": {"phase": "Running", "podIP": "198.19.128.7", "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "main", "restartCount": 2}]}})"));
  CHECK(sidecar_restarts(cached) == 2);

  json starting = json::parse(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]}, "status": {"phase": "Pending"}})");
  CHECK(sidecar_restarts(starting) == 0);
  trim_cached_pod(starting);
  CHECK(starting == json::parse(R"({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "main"}]}, "status": {"phase": "Pending"}})"));
  CHECK(sidecar_restarts(json::parse(R"({"metadata": {"name": "p"}})")) == 0);
}

TEST_CASE("plan_sandbox: a Ready sandbox's unconfirmed claim is sent again; a pod another sandbox holds is lost, not deleted") {
  const json on_pod{{"phase", "Ready"}, {"podName", "py-a"}, {"podIP", "198.19.128.7"}, {"allocatedAt", "2030-01-01T00:00:00Z"}};
  json still_idle = allocated_pod(0);
  still_idle["metadata"]["labels"]["arl.infra.io/pod-state"] = "ready";
  SandboxPlan p = plan_sandbox(SandboxView{sandbox(on_pod), still_idle, {}, true, {}}, T0);
  REQUIRE(p.reclaim);
  CHECK(p.reclaim->pod == "py-a");
  CHECK_FALSE(p.status);

  json ours = allocated_pod(0);
  ours["metadata"]["labels"]["arl.infra.io/sandbox"] = "sb";
  CHECK_FALSE(plan_sandbox(SandboxView{sandbox(on_pod), ours, {}, true, {}}, T0).reclaim);

  json theirs = allocated_pod(0);
  theirs["metadata"]["labels"]["arl.infra.io/sandbox"] = "other";
  SandboxPlan lost = plan_sandbox(SandboxView{sandbox(on_pod), theirs, {}, true, {}}, T0);
  REQUIRE(lost.status);
  CHECK(lost.status->phase == "Failed");
  CHECK(lost.status->conditions[0].reason == "PodLost");
  CHECK(lost.delete_pod.empty());
  json failed = on_pod;
  failed["phase"] = "Failed";
  CHECK(plan_sandbox(SandboxView{sandbox(failed), theirs, {}, true, {}}, T0).delete_pod.empty());  // theirs stays
  CHECK(plan_sandbox(SandboxView{sandbox(failed), ours, {}, true, {}}, T0).delete_pod == "py-a");
}

TEST_CASE("claim_lost_patch: Pending again, every allocation field removed, the lost pod named") {
  const json on_pod{{"phase", "Ready"}, {"podName", "py-a"}, {"podIP", "198.19.128.7"}, {"workDir", "/workspace"},
                    {"allocatedAt", "2030-01-01T00:00:00Z"}, {"lastActivityAt", "2030-01-01T00:00:00Z"}};
  json patch = claim_lost_patch(sandbox(on_pod), "py-a", T0);
  const json& st = patch["status"];
  CHECK(st["phase"] == "Pending");
  for (const char* key : {"podName", "podIP", "workDir", "allocatedAt", "lastActivityAt"}) CHECK_MESSAGE(st[key].is_null(), key);
  CHECK(st["conditions"][0]["reason"] == "ClaimLost");
  CHECK(st["conditions"][0]["status"] == "False");
  CHECK(st["conditions"][0]["message"].get<std::string>().find("py-a") != std::string::npos);
}
