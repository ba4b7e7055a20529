#include <doctest/doctest.h>

#include "localnode/pod_decision.h"

using namespace arl::localnode;
using namespace std::chrono_literals;

namespace {

const NodeView kNode{"n1",
                     {{"kubernetes.io/hostname", "n1"},
                      {"kubernetes.io/os", "linux"},
                      {"kubernetes.io/arch", "amd64"},
                      {"arl.infra.io/localnode", "true"}}};

PodView pod(std::string node, std::string phase = "", bool deleting = false) {
  PodView p;
  p.uid = "u1";
  p.node_name = std::move(node);
  p.phase = std::move(phase);
  p.deleting = deleting;
  return p;
}

PodView unscheduled(std::string scheduler, std::map<std::string, std::string> selector = {}) {
  PodView p = pod("");
  p.scheduler_name = std::move(scheduler);
  p.node_selector = std::move(selector);
  return p;
}

constexpr auto none = PodAction::none;
constexpr auto stop = PodAction::stop;
constexpr auto start = PodAction::start;
constexpr auto report = PodAction::report_status;
constexpr auto finish = PodAction::finish_deletion;

}  // namespace

TEST_CASE("decide_pod: API pod state x local process -> action") {
  struct Row {
    const char* name;
    std::optional<PodView> pod;
    std::optional<std::string> local_uid;
    PodDecision want;
  };
  const Row rows[] = {
      {"gone, nothing runs", std::nullopt, std::nullopt, {false, false, none}},
      {"gone, its process runs", std::nullopt, "u1", {false, false, stop}},
      {"unscheduled, default scheduler", unscheduled(""), std::nullopt, {false, true, start}},
      {"unscheduled, default-scheduler by name", unscheduled("default-scheduler"), std::nullopt, {false, true, start}},
      {"unscheduled, another scheduler", unscheduled("volcano"), std::nullopt, {false, false, none}},
      {"unscheduled, selector matches", unscheduled("", {{"kubernetes.io/arch", "amd64"}, {"kubernetes.io/os", "linux"}}),
       std::nullopt, {false, true, start}},
      {"unscheduled, selector names another host", unscheduled("", {{"kubernetes.io/hostname", "n2"}}), std::nullopt,
       {false, false, none}},
      {"unscheduled, selector needs a label we lack", unscheduled("", {{"gpu", "true"}}), std::nullopt,
       {false, false, none}},
      {"unscheduled and deleting", [] { auto p = unscheduled(""); p.deleting = true; return p; }(), std::nullopt,
       {false, false, none}},
      {"bound to another node", pod("n2"), std::nullopt, {false, false, none}},
      {"bound here, not running", pod("n1", "Pending"), std::nullopt, {false, false, start}},
      {"bound here, running", pod("n1", "Running"), "u1", {false, false, report}},
      {"bound here, running, then finished", pod("n1", "Succeeded"), "u1", {false, false, report}},
      {"bound here, finished before a restart", pod("n1", "Succeeded"), std::nullopt, {false, false, none}},
      {"bound here, failed before a restart", pod("n1", "Failed"), std::nullopt, {false, false, none}},
      {"bound here, deleting, running", pod("n1", "Running", true), "u1", {false, false, finish}},
      {"bound here, deleting, nothing runs", pod("n1", "Running", true), std::nullopt, {false, false, finish}},
      {"same name, new pod", pod("n1", "Pending"), "u0", {true, false, start}},
      {"same name, new pod, deleting", pod("n1", "", true), "u0", {true, false, finish}},
      {"same name, new unscheduled pod", unscheduled(""), "u0", {true, true, start}},
      {"same name, new pod for another node", pod("n2"), "u0", {true, false, none}},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(decide_pod(r.pod, r.local_uid, kNode) == r.want);
  }
}

TEST_CASE("view_of reads the fields the decision needs") {
  auto v = view_of(nlohmann::json::parse(R"({
    "metadata": {"uid": "u9", "deletionTimestamp": "2026-01-01T00:00:00Z"},
    "spec": {"nodeName": "n1", "schedulerName": "s", "nodeSelector": {"a": "b", "n": 1}},
    "status": {"phase": "Running"}})"));
  CHECK(v.uid == "u9");
  CHECK(v.node_name == "n1");
  CHECK(v.scheduler_name == "s");
  CHECK(v.node_selector == std::map<std::string, std::string>{{"a", "b"}});
  CHECK(v.deleting);
  CHECK(v.phase == "Running");

  auto empty = view_of(nlohmann::json::parse(R"({"metadata": {"deletionTimestamp": null}})"));
  CHECK_FALSE(empty.deleting);
  CHECK(empty.node_name.empty());
}

TEST_CASE("status_write_due: the first write waits for Ready, each change is written once") {
  struct Row {
    const char* name;
    StatusView s;
    bool want;
  };
  const Row rows[] = {
      {"starting, not ready, young", {"Running", false, false, "", false, 10ms}, false},
      {"starting, ready", {"Running", true, false, "", false, 10ms}, true},
      {"starting, not ready past ready_wait", {"Running", false, false, "", false, 1000ms}, true},
      {"exited before its first write", {"Failed", false, true, "", false, 10ms}, true},
      {"written Running unready, now ready", {"Running", true, false, "Running", false, 2000ms}, true},
      {"written Running+Ready, unchanged", {"Running", true, false, "Running", true, 5000ms}, false},
      {"written Running+Ready, exited 0", {"Succeeded", true, true, "Running", true, 5000ms}, true},
      {"written Failed, unchanged", {"Failed", true, true, "Failed", false, 5000ms}, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(status_write_due(r.s, 1000ms) == r.want);
  }
}

TEST_CASE("probe_interval: fast while a process starts, gentle once it is slow") {
  CHECK(probe_interval(0ms) == 2ms);
  CHECK(probe_interval(1999ms) == 2ms);
  CHECK(probe_interval(2s) == 50ms);
  CHECK(probe_interval(10s) == 500ms);
}

TEST_CASE("deletion_grace: the deletion's, else the spec's, else 30 s; capped") {
  using nlohmann::json;
  struct Row {
    const char* name;
    json pod;
    std::chrono::seconds want;
  };
  const Row rows[] = {
      {"default 30 s, capped", json::object(), 2s},
      {"deletion grace wins", {{"metadata", {{"deletionGracePeriodSeconds", 1}}}, {"spec", {{"terminationGracePeriodSeconds", 0}}}}, 1s},
      {"spec grace", {{"spec", {{"terminationGracePeriodSeconds", 0}}}}, 0s},
      {"negative is 0", {{"metadata", {{"deletionGracePeriodSeconds", -5}}}}, 0s},
  };
  for (const auto& r : rows) {
    CAPTURE(r.name);
    CHECK(deletion_grace(r.pod, 2s) == r.want);
  }
}

TEST_CASE("adopt_leftover: a restarted agent takes over only its own pod's process, reachable and reported") {
  struct Row {
    const char* what;
    std::string leftover_uid;
    std::optional<PodView> pod;
    bool reported, network_kept, adopt;
  };
  PodView elsewhere = pod("n2", "Running");
  PodView deleting = pod("n1", "Running", true);
  const Row rows[] = {
      {"its pod runs here as reported", "u1", pod("n1", "Running"), true, true, true},
      {"being deleted: taken over, then stopped with its grace", "u1", deleting, true, true, true},
      {"the network was rebuilt: unreachable", "u1", pod("n1", "Running"), true, false, false},
      {"the pod is gone", "u1", std::nullopt, true, true, false},
      {"a new pod of the same name", "u0", pod("n1", "Running"), true, true, false},
      {"an older agent's pid file names no pod", "", pod("n1", "Running"), true, true, false},
      {"the pod is now on another node", "u1", elsewhere, true, true, false},
      {"no status says where it runs", "u1", pod("n1", "Pending"), false, true, false},
  };
  for (const auto& r : rows) {
    CAPTURE(r.what);
    CHECK(adopt_leftover(r.leftover_uid, r.pod, r.reported, r.network_kept, kNode) == r.adopt);
  }
}
