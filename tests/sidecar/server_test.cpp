#include <doctest/doctest.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <httplib.h>

#include "core/error.h"
#include "k8s/direct_transport.h"
#include "k8s/sidecar_client.h"
#include "sidecar_test_util.h"
#include "../error_code_of.h"

using arl::test_support::error_code_of;
using namespace arl;
using namespace arl::sidecar;
using arl::k8s::SidecarClient;
using arl::sidecar::testing::RunningServer;

using arl::sidecar::testing::sh;

TEST_CASE("health, files and execute over the wire") {
  RunningServer s;
  SidecarClient c(s.address(), "");
  CHECK(c.health().status == "ok");
  CHECK(c.health().version == "test");

  auto w = c.write_file({"dir/app.sh", "echo from-file\n", 0755, ""});
  CHECK(w.path == s.dir.path + "/dir/app.sh");
  CHECK(w.bytes == 15);
  struct stat st;
  REQUIRE(stat(w.path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0755);
  CHECK(c.write_file({"b.bin", "aGk=", std::nullopt, "base64"}).bytes == 2);
  CHECK(testing::read_file(s.dir.path + "/b.bin") == "hi");

  auto r = c.execute(sh("./dir/app.sh; echo e >&2; exit 4"));
  CHECK(r.exit_code == 4);
  CHECK(r.stdout_data == "from-file\n");
  CHECK(r.stderr_data == "e\n");
  CHECK(r.duration_ms > 0);
  REQUIRE(r.usage);  // buffered replies carry it too
  CHECK(r.usage->wall_ms == r.duration_ms);
  CHECK(r.usage->max_rss_kb > 0);
}

TEST_CASE("file paths: relative may not escape the workdir, absolute are used as given") {
  RunningServer s;
  SidecarClient c(s.address(), "");
  CHECK(error_code_of([&] { c.write_file({"../escape.txt", "x", std::nullopt, ""}); }) == ErrorCode::invalid);
  testing::TempDir other;
  c.write_file({other.path + "/abs.txt", "abs", std::nullopt, ""});
  CHECK(testing::read_file(other.path + "/abs.txt") == "abs");
  CHECK(error_code_of([&] { c.write_file({"x", "!!!", std::nullopt, "base64"}); }) == ErrorCode::invalid);
}

TEST_CASE("streaming execute delivers events then the exit") {
  RunningServer s;
  SidecarClient c(s.address(), "");
  std::vector<core::ExecEvent> events;
  auto r = c.execute_stream(sh("echo one; sleep 0.1; echo two >&2; exit 2"),
                            [&](const core::ExecEvent& e) { events.push_back(e); });
  CHECK(r.exit_code == 2);
  CHECK(r.done);
  CHECK_FALSE(r.pid);
  CHECK(r.stdout_data.empty());  // it went to on_event
  REQUIRE(events.size() == 4);
  CHECK(events[0].type == core::ExecEvent::Type::start);
  CHECK(events[1].data == "one\n");
  CHECK(events[2].data == "two\n");
  CHECK(events[3].type == core::ExecEvent::Type::exit);
  CHECK(events[3].exit_code == 2);
  REQUIRE(events[3].usage);  // the exit event carries what the command cost
  CHECK(events[3].usage->max_rss_kb > 0);

  // Without on_event the output is collected; the connection is reused.
  auto collected = c.execute_stream(sh("echo out; echo err >&2"));
  CHECK(collected.stdout_data == "out\n");
  CHECK(collected.stderr_data == "err\n");
  CHECK(collected.exit_code == 0);

  // The raw wire form: NDJSON, one object per line.
  httplib::Client raw(s.address());
  auto res = raw.Post("/execute", R"({"command":["echo","hi"],"stream":true})", "application/json");
  REQUIRE(res);
  CHECK(res->status == 200);
  CHECK(res->get_header_value("Content-Type") == "application/x-ndjson");
  CHECK(res->body.find("{\"data\":\"hi\\n\",\"type\":\"stdout\"}\n") != std::string::npos);
  CHECK(res->body.find("\"type\":\"exit\"") != std::string::npos);
}

TEST_CASE("timeout over the wire") {
  RunningServer s;
  SidecarClient c(s.address(), "");
  auto r = c.execute(sh("sleep 20", 0.3));
  CHECK(r.timed_out);
  CHECK(r.exit_code == 124);
}

TEST_CASE("background, processes, signal and reset over the wire") {
  RunningServer s;
  SidecarClient c(s.address(), "");
  core::ExecuteRequest bg;
  bg.command = {"sleep", "30"};
  bg.background = true;
  auto r = c.execute(bg);
  REQUIRE(r.pid);
  CHECK_FALSE(r.done);
  auto ps = c.processes();
  REQUIRE(ps.size() == 1);
  CHECK(ps[0].running);
  CHECK(c.signal(*r.pid, "SIGKILL").success);
  CHECK(testing::wait_gone(*r.pid, 2000));
  CHECK(error_code_of([&] { c.signal(1, "SIGTERM"); }) == ErrorCode::not_found);
  CHECK(error_code_of([&] { c.signal(*r.pid, "SIGNOPE"); }) == ErrorCode::invalid);

  auto r2 = c.execute(bg);
  c.write_file({"junk.txt", "x", std::nullopt, ""});
  auto rr = c.reset();
  CHECK(rr.success);
  CHECK(testing::wait_gone(*r2.pid, 2000));
  CHECK(std::filesystem::is_empty(s.dir.path));
}

TEST_CASE("auth: 401 without the token, both header forms accepted, /health open") {
  RunningServer s("s3cret");
  httplib::Client raw(s.address());
  auto no = raw.Post("/execute", R"({"command":["true"]})", "application/json");
  REQUIRE(no);
  CHECK(no->status == 401);
  CHECK(no->body.find("token") != std::string::npos);
  auto wrong = raw.Get("/processes", {{"Authorization", "Bearer nope"}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto bearer = raw.Get("/processes", {{"Authorization", "Bearer s3cret"}});
  REQUIRE(bearer);
  CHECK(bearer->status == 200);
  auto health = raw.Get("/health");
  REQUIRE(health);
  CHECK(health->status == 200);

  SidecarClient good(s.address(), "s3cret");  // sends X-Arl-Token
  CHECK(good.execute(sh("true")).exit_code == 0);
  SidecarClient bad(s.address(), "other");
  CHECK(error_code_of([&] { bad.execute(sh("true")); }) == ErrorCode::unauthorized);
}

TEST_CASE("a refused request leaves its keep-alive connection usable") {
  RunningServer s("s3cret");
  httplib::Client raw(s.address());
  raw.set_keep_alive(true);
  auto refused = raw.Post("/execute", {{"X-Arl-Token", "wrong"}}, R"({"command":["echo","one"]})", "application/json");
  REQUIRE(refused);
  CHECK(refused->status == 401);
  auto next = raw.Post("/execute", {{"X-Arl-Token", "s3cret"}}, R"({"command":["echo","two"]})", "application/json");
  REQUIRE(next);
  CHECK(next->status == 200);
  CHECK(next->body.find("two") != std::string::npos);
}

TEST_CASE("bad input gets a 4xx JSON error naming the field; the server keeps serving") {
  RunningServer s("", 4096);
  httplib::Client raw(s.address());
  auto post = [&](const std::string& path, const std::string& body) {
    auto res = raw.Post(path.c_str(), body, "application/json");
    REQUIRE(res);
    return std::make_pair(res->status, nlohmann::json::parse(res->body));
  };
  auto [st1, j1] = post("/execute", "{oops");
  CHECK(st1 == 400);
  CHECK(j1["error"].get<std::string>().find("invalid JSON") != std::string::npos);
  auto [st2, j2] = post("/execute", R"({"command":[]})");
  CHECK(st2 == 400);
  CHECK(j2["field"] == "command");
  auto [st3, j3] = post("/execute", R"({"command":["true"],"env":{"A":[1]}})");
  CHECK(st3 == 400);
  CHECK(j3["field"] == "env.A");
  auto [st4, j4] = post("/signal", R"({"pid":1,"signal":"SIGWHAT"})");
  CHECK(st4 == 400);
  CHECK(j4["field"] == "signal");
  auto [st5, j5] = post("/execute", R"({"command":["true"],"working_dir":"nope"})");
  CHECK(st5 == 400);
  CHECK(j5["field"] == "working_dir");
  auto [st6, j6] = post("/files", "{\"path\":\"big\",\"content\":\"" + std::string(10000, 'a') + "\"}");
  CHECK(st6 == 413);
  CHECK(j6.contains("error"));
  auto [st7, j7] = post("/nope", "{}");
  CHECK(st7 == 404);
  auto ok = raw.Get("/health");
  REQUIRE(ok);
  CHECK(ok->status == 200);
}

TEST_CASE("concurrent executes over several connections") {
  RunningServer s;
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 8; ++i)
    ts.emplace_back([&, i] {
      SidecarClient c(s.address(), "");
      for (int k = 0; k < 3; ++k) {
        auto r = c.execute(sh("sleep 0.2; echo " + std::to_string(i)));
        if (r.stdout_data == std::to_string(i) + "\n") ++ok;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(ok == 24);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("client reports an unreachable sidecar as unavailable") {
  SidecarClient c(std::make_unique<k8s::DirectTransport>(k8s::DirectOptions{"127.0.0.1:1", "", 1}));
  CHECK(error_code_of([&] { c.health(); }) == ErrorCode::unavailable);
}

TEST_CASE("client errors name the call and carry the sidecar's message, streamed or not") {
  RunningServer s("s3cret");
  SidecarClient c(s.address(), "s3cret");
  auto bad_dir = sh("true");
  bad_dir.working_dir = "nope";
  const std::string expected = "POST /execute: sidecar answered 400: working_dir: \"" + s.dir.path +
                               "/nope\" is not an existing directory";
  CHECK_THROWS_WITH_AS(c.execute(bad_dir), expected.c_str(), Error);
  CHECK_THROWS_WITH_AS(c.execute_stream(bad_dir, [](const core::ExecEvent&) {}), expected.c_str(), Error);
  CHECK(error_code_of([&] { c.execute_stream(bad_dir); }) == ErrorCode::invalid);
  SidecarClient wrong(s.address(), "other");
  CHECK_THROWS_WITH_AS(wrong.execute_stream(sh("true")), "POST /execute: sidecar answered 401: token: wrong token",
                       Error);
  CHECK_THROWS_WITH_AS(c.signal(1, "SIGTERM"),
                       "POST /signal: sidecar answered 404: pid: process 1 was not started by this sidecar (see GET /processes)",
                       Error);
  CHECK(c.execute_stream(sh("echo still-usable")).stdout_data == "still-usable\n");
}

TEST_CASE("stopping a stream returns at once with the pid; the sidecar kills the silent command; the client stays usable") {
  RunningServer s;
  SidecarClient c(s.address(), "");
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request_stop();
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = c.execute_stream(sh("sleep 20"), [](const core::ExecEvent&) {}, stop.get_token());
  stopper.join();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
  CHECK_FALSE(r.done);
  REQUIRE(r.pid);
  // It prints nothing, so only the closed connection tells the sidecar its
  // caller went away: the sidecar kills it, without a /signal.
  CHECK(testing::wait_gone(*r.pid, 2000));
  CHECK(c.execute(sh("echo next")).stdout_data == "next\n");
}
