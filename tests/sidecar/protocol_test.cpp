#include <doctest/doctest.h>

#include <csignal>

#include "core/error.h"
#include "core/sidecar_protocol.h"
#include "sidecar/http_json.h"

using namespace arl;
using namespace arl::core;

namespace {
std::string invalid_message(const std::string& body, int which) {
  try {
    if (which == 0) sidecar::parse_request<ExecuteRequest>(body);
    if (which == 1) sidecar::parse_request<FileWriteRequest>(body);
    if (which == 2) sidecar::parse_request<SignalRequest>(body);
    if (which == 3) sidecar::parse_request<ResetRequest>(body);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid);
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("execute request parses every field") {
  auto r = sidecar::parse_request<ExecuteRequest>(
      R"({"command":["sh","-c","echo"],"working_dir":"sub","env":{"A":"1"},"timeout_seconds":2.5,"stdin":"x","stream":true})");
  CHECK(r.command.size() == 3);
  CHECK(r.working_dir == "sub");
  CHECK(r.env.at("A") == "1");
  CHECK(*r.timeout_seconds == doctest::Approx(2.5));
  CHECK(*r.stdin_data == "x");
  CHECK(r.stream);
  CHECK_FALSE(r.background);
  // Round trip through the client's serializer.
  auto back = sidecar::parse_request<ExecuteRequest>(nlohmann::json(r).dump());
  CHECK(back.command == r.command);
  CHECK(back.env == r.env);
  CHECK(*back.stdin_data == "x");
}

TEST_CASE("timeout_seconds 0 means no timeout, not a refused request (the manual's background example)") {
  auto r = sidecar::parse_request<ExecuteRequest>(R"({"command":["python","server.py"],"background":true,"timeout_seconds":0})");
  CHECK(*r.timeout_seconds == 0);
  CHECK(r.background);
  CHECK(*sidecar::parse_request<ExecuteRequest>(R"({"command":["ls"],"timeout_seconds":0})").timeout_seconds == 0);
}

TEST_CASE("execute request errors name the field") {
  CHECK(invalid_message("", 0).rfind("command: required", 0) == 0);
  CHECK(invalid_message("{not json", 0).rfind("body: invalid JSON", 0) == 0);
  CHECK(invalid_message("[1]", 0).rfind("body: must be a JSON object", 0) == 0);
  CHECK(invalid_message(R"({"command":[]})", 0) == "command: must not be empty");
  CHECK(invalid_message(R"({"command":"ls"})", 0).rfind("command: must be an array", 0) == 0);
  CHECK(invalid_message(R"({"command":["ls",3]})", 0).rfind("command[1]: must be a string", 0) == 0);
  CHECK(invalid_message(R"({"command":["ls"],"env":{"A":1}})", 0).rfind("env.A: must be a string", 0) == 0);
  CHECK(invalid_message(R"({"command":["ls"],"timeout_seconds":-1})", 0) ==
        "timeout_seconds: must be 0 (no timeout) or a number of seconds up to 604800, got -1");
  CHECK(invalid_message(R"({"command":["ls"],"timeout_seconds":604801})", 0) ==
        "timeout_seconds: must be at most 604800 (7 days; 0 means no timeout), got 604801");
  CHECK(invalid_message(R"({"command":["ls"],"timeout_seconds":"5"})", 0).rfind("timeout_seconds: must be a number", 0) == 0);
  CHECK(invalid_message(R"({"command":["ls"],"background":"yes"})", 0).rfind("background: must be true or false", 0) == 0);
  CHECK(invalid_message(R"({"command":["ls"],"background":true,"stdin":"x"})", 0).rfind("stdin:", 0) == 0);
  CHECK(field_of_message("env.A: must be a string") == "env.A");
  CHECK(field_of_message("body: invalid JSON") == "");
}

TEST_CASE("file, signal and reset requests validate") {
  auto f = sidecar::parse_request<FileWriteRequest>(R"({"path":"a.txt","content":"aGk=","mode":"0755","encoding":"base64"})");
  CHECK(*f.mode == 0755u);
  CHECK(f.encoding == "base64");
  CHECK(*sidecar::parse_request<FileWriteRequest>(R"({"path":"a","mode":420})").mode == 0644u);
  CHECK(invalid_message(R"({"content":"x"})", 1) == "path: required");
  CHECK(invalid_message(R"({"path":"a","mode":"999"})", 1).rfind("mode:", 0) == 0);
  CHECK(invalid_message(R"({"path":"a","encoding":"gzip"})", 1).rfind("encoding:", 0) == 0);

  auto s = sidecar::parse_request<SignalRequest>(R"({"pid":12,"signal":"SIGKILL"})");
  CHECK(s.pid == 12);
  CHECK(parse_signal_name(s.signal) == SIGKILL);
  CHECK(parse_signal_name("term") == SIGTERM);
  CHECK(parse_signal_name("2") == SIGINT);
  CHECK(sidecar::parse_request<SignalRequest>(R"({"pid":3})").signal == "SIGTERM");
  CHECK(invalid_message(R"({"signal":"SIGTERM"})", 2) == "pid: required");
  CHECK(invalid_message(R"({"pid":-4})", 2).rfind("pid:", 0) == 0);
  CHECK(invalid_message(R"({"pid":4,"signal":"SIGFOO"})", 2).rfind("signal: unknown signal", 0) == 0);

  CHECK_FALSE(sidecar::parse_request<ResetRequest>("").preserve_files);
  CHECK(sidecar::parse_request<ResetRequest>(R"({"preserve_files":true})").preserve_files);
  CHECK(invalid_message(R"({"preserve_files":1})", 3).rfind("preserve_files:", 0) == 0);
}

TEST_CASE("responses and events round trip") {
  ExecuteResponse r;
  r.stdout_data = "out";
  r.exit_code = 3;
  r.pid = 77;
  r.done = false;
  auto j = nlohmann::json(r);
  CHECK(j["stdout"] == "out");
  CHECK(j["pid"] == 77);
  auto back = j.get<ExecuteResponse>();
  CHECK(back.exit_code == 3);
  CHECK(*back.pid == 77);
  CHECK_FALSE(back.done);

  ExecEvent ev;
  ev.type = ExecEvent::Type::exit;
  ev.exit_code = 5;
  ev.timed_out = true;
  auto ej = nlohmann::json(ev);
  CHECK(ej["type"] == "exit");
  auto eb = ej.get<ExecEvent>();
  CHECK(eb.type == ExecEvent::Type::exit);
  CHECK(eb.exit_code == 5);
  CHECK(eb.timed_out);

  ProcessesResponse ps{{ProcessInfo{5, {"sleep", "1"}, false, 0, true, "2026-01-01T00:00:00Z"}}};
  auto pb = nlohmann::json(ps).get<ProcessesResponse>();
  REQUIRE(pb.processes.size() == 1);
  CHECK(pb.processes[0].command[0] == "sleep");
  CHECK(*pb.processes[0].exit_code == 0);
}
