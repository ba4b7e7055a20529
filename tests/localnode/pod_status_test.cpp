#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "localnode/pod_status.h"
#include "localnode/probe.h"

using namespace arl::localnode;
using namespace std::chrono_literals;

namespace {
RunState running(bool ready) {
  RunState s;
  s.container = "executor";
  s.image = "python:3.12";
  s.pod_ip = "198.18.0.9";
  s.host_ip = "198.18.0.1";
  s.start_time = "2026-01-02T03:04:05Z";
  s.pid = 4242;
  s.ready = ready;
  return s;
}

std::string cond(const nlohmann::json& status, const std::string& type) {
  for (const auto& c : status["conditions"]) {
    if (c["type"] == type) return c["status"];
  }
  return "<missing>";
}
}  // namespace

TEST_CASE("localnode: RFC 3339 timestamps with microseconds for the Lease") {
  std::chrono::system_clock::time_point t{std::chrono::seconds{1767323045} + std::chrono::microseconds{1234}};
  CHECK(rfc3339_micro(t) == "2026-01-02T03:04:05.001234Z");
}

TEST_CASE("localnode: one status patch takes a pod to Running and Ready") {
  auto p = status_patch(running(true), "2026-01-02T03:04:06Z")["status"];
  CHECK(p["phase"] == "Running");
  CHECK(p["podIP"] == "198.18.0.9");
  CHECK(p["podIPs"][0] == nlohmann::json{{"ip", "198.18.0.9"}});
  CHECK(p["podIPs"][1] == nlohmann::json{{"$patch", "replace"}});  // an old IP must not survive the merge
  CHECK(p["hostIP"] == "198.18.0.1");
  CHECK(p["startTime"] == "2026-01-02T03:04:05Z");
  CHECK(cond(p, "Ready") == "True");
  CHECK(cond(p, "ContainersReady") == "True");
  CHECK(cond(p, "Initialized") == "True");
  CHECK(cond(p, "PodScheduled") == "<missing>");  // the binding's condition is left alone
  auto cs = p["containerStatuses"][0];
  CHECK(cs["name"] == "executor");
  CHECK(cs["ready"] == true);
  CHECK(cs["state"]["running"]["startedAt"] == "2026-01-02T03:04:05Z");
}

TEST_CASE("localnode: running but not ready, then exits") {
  auto p = status_patch(running(false), "now")["status"];
  CHECK(p["phase"] == "Running");
  CHECK(cond(p, "Ready") == "False");
  CHECK(p["containerStatuses"][0]["ready"] == false);

  auto s = running(true);
  s.exit = ExitInfo{137, 9, "2026-01-02T03:05:00Z"};
  CHECK(phase_of(s) == "Failed");
  auto f = status_patch(s, "now")["status"];
  CHECK(f["phase"] == "Failed");
  CHECK(cond(f, "Ready") == "False");  // a dead container is never ready
  auto term = f["containerStatuses"][0]["state"]["terminated"];
  CHECK(term["exitCode"] == 137);
  CHECK(term["signal"] == 9);
  CHECK(term["reason"] == "Error");
  CHECK(term["finishedAt"] == "2026-01-02T03:05:00Z");

  s.exit = ExitInfo{0, 0, "t"};
  CHECK(phase_of(s) == "Succeeded");
  auto ok = status_patch(s, "now")["status"]["containerStatuses"][0]["state"]["terminated"];
  CHECK(ok["reason"] == "Completed");
  CHECK_FALSE(ok.contains("signal"));
}

TEST_CASE("localnode: waiting status for a container that cannot start yet") {
  auto p = waiting_patch("executor", "img", "CreateContainerConfigError", "secret \"s\" not found", "198.18.0.1")["status"];
  CHECK(p["phase"] == "Pending");
  CHECK(p["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError");
  CHECK(p["containerStatuses"][0]["state"]["waiting"]["message"] == "secret \"s\" not found");
}

TEST_CASE("localnode: HTTP status line parsing for probes") {
  CHECK(parse_status_line("HTTP/1.1 200 OK\r\n") == 200);
  CHECK(parse_status_line("HTTP/1.0 503 Service Unavailable") == 503);
  CHECK(parse_status_line("HTTP/1.1 20") == 0);
  CHECK(parse_status_line("SSH-2.0-x") == 0);
  CHECK(probe_once(Probe{}, "198.18.0.9", 1ms));  // no probe: ready
}


TEST_CASE("localnode: a restarted agent reads back what it reported of a running pod") {
  auto rs = running(true);
  rs.restart_count = 2;
  nlohmann::json pod = status_patch(rs, "2026-01-02T03:04:06Z");
  auto back = reported_run_state(pod);
  REQUIRE(back);
  CHECK(back->container == "executor");
  CHECK(back->image == "python:3.12");
  CHECK(back->pod_ip == "198.18.0.9");
  CHECK(back->host_ip == "198.18.0.1");
  CHECK(back->start_time == "2026-01-02T03:04:05Z");
  CHECK(back->restart_count == 2);
  CHECK(back->ready);
  // Written back unchanged, the status is the same patch: nothing to write.
  back->pid = rs.pid;
  CHECK(status_patch(*back, "2026-01-02T03:04:06Z") == pod);

  rs.exit = ExitInfo{0, 0, "2026-01-02T03:05:00Z"};
  CHECK_FALSE(reported_run_state(status_patch(rs, "2026-01-02T03:05:00Z")));
  CHECK_FALSE(reported_run_state(waiting_patch("executor", "python:3.12", "CreateContainerConfigError", "no secret",
                                               "198.18.0.1")));
  CHECK_FALSE(reported_run_state(nlohmann::json{{"status", {{"phase", "Pending"}}}}));
}

TEST_CASE("localnode: a process started again for a pod that ran counts as a restart") {
  CHECK(restart_count_for_new_process(nlohmann::json{{"status", {{"phase", "Pending"}}}}) == 0);
  CHECK(restart_count_for_new_process(waiting_patch("c", "i", "CreateContainerConfigError", "m", "198.18.0.1")) == 0);
  auto rs = running(true);
  CHECK(restart_count_for_new_process(status_patch(rs, "2026-01-02T03:04:06Z")) == 1);
  rs.restart_count = 1;
  rs.exit = ExitInfo{1, 0, "2026-01-02T03:05:00Z"};
  CHECK(restart_count_for_new_process(status_patch(rs, "2026-01-02T03:05:00Z")) == 2);
}

TEST_CASE("localnode: an exit whose status is unknown says so") {
  auto rs = running(true);
  rs.exit = ExitInfo{137, 0, "2026-01-02T03:05:00Z", "ContainerStatusUnknown"};
  auto term = status_patch(rs, "2026-01-02T03:05:00Z")["status"]["containerStatuses"][0]["state"]["terminated"];
  CHECK(term["reason"] == "ContainerStatusUnknown");
  CHECK(term["exitCode"] == 137);
  rs.exit = ExitInfo{3, 0, "2026-01-02T03:05:00Z"};
  CHECK(status_patch(rs, "2026-01-02T03:05:00Z")["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] ==
        "Error");
}
