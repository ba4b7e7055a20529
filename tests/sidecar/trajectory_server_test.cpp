// GET /trajectory over the wire: what each route records, paging with
// since, restores that leave it alone, and the bound env kept out of it.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "k8s/sidecar_client.h"
#include "sidecar/output_digest.h"
#include "sidecar_test_util.h"

using namespace arl;
using arl::k8s::SidecarClient;
using arl::sidecar::testing::RunningServer;
using arl::sidecar::testing::sh;
using nlohmann::json;

namespace {

const std::string& kPool = arl::sidecar::testing::kPoolToken;
const std::string& kOwn = arl::sidecar::testing::kSandboxToken;

std::vector<json> get_lines(httplib::Client& c, const std::string& query, std::string* raw = nullptr) {
  auto r = c.Get(("/trajectory" + query).c_str(), {{"X-Arl-Token", kOwn}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->get_header_value("Content-Type") == "application/x-ndjson");
  if (raw) *raw = r->body;
  std::vector<json> out;
  std::istringstream in(r->body);
  for (std::string l; std::getline(in, l);) out.push_back(json::parse(l));
  return out;
}

}  // namespace

TEST_CASE("every operation is a line of GET /trajectory, and a restore does not erase them") {
  RunningServer s(kPool);
  SidecarClient(s.address(), kPool).bind({kOwn}, {{{"API_KEY", "s3cret-value-123"}}, ""});
  SidecarClient c(s.address(), kOwn);
  c.write_file({"notes.txt", "v1\n", std::nullopt, ""});
  c.execute(sh("cat notes.txt; echo key=$API_KEY; exit 2"));
  auto streamed = sh("echo streamed; echo err >&2");
  c.execute_stream(streamed);
  httplib::Client raw(s.address());
  REQUIRE(raw.Post("/checkpoints", {{"X-Arl-Token", kOwn}}, R"({"name":"c1"})", "application/json")->status == 200);
  c.write_file({"notes.txt", "v2\n", std::nullopt, ""});
  REQUIRE(raw.Post("/checkpoints/c1/restore", {{"X-Arl-Token", kOwn}}, "{}", "application/json")->status == 200);
  c.reset({true});

  std::string body;
  auto lines = get_lines(raw, "", &body);
  REQUIRE(lines.size() == 7);
  std::vector<std::string> kinds;
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["seq"] == i + 1);
    kinds.push_back(lines[i]["kind"]);
  }
  CHECK(kinds == std::vector<std::string>{"file_write", "execute", "execute", "checkpoint", "file_write", "restore", "reset"});
  CHECK(lines[0]["content_base64"] == "djEK");
  CHECK(lines[1]["exit_code"] == 2);
  CHECK(lines[1]["stdout"] == "v1\nkey=[redacted API_KEY]\n");
  CHECK(lines[1]["stdout_sha256"] == sidecar::sha256_hex("v1\nkey=s3cret-value-123\n"));
  CHECK(lines[1]["usage"]["wall_ms"].is_number());
  CHECK(lines[2]["stream"] == true);
  CHECK(lines[2]["stdout"] == "streamed\n");
  CHECK(lines[2]["stderr"] == "err\n");
  CHECK(lines[2]["exit_code"] == 0);
  CHECK(lines[3]["name"] == "c1");
  CHECK(lines[5]["checkpoint"] == "c1");
  CHECK(lines[5]["id"] == lines[3]["id"]);
  CHECK(lines[6]["preserve_files"] == true);
  // The bound env's value is in no line, whatever the commands printed.
  CHECK(body.find("s3cret-value-123") == std::string::npos);

  auto later = get_lines(raw, "?since=5");
  REQUIRE(later.size() == 2);
  CHECK(later[0]["seq"] == 6);
  CHECK(get_lines(raw, "?since=7").empty());
  CHECK(get_lines(raw, "?since=99").empty());
}

TEST_CASE("a refused request is recorded with its error, and a bad since is a 400 naming it") {
  RunningServer s;
  httplib::Client raw(s.address());
  auto r = raw.Post("/execute", R"({"command":["true"],"working_dir":"no/such/dir"})", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  auto lines = get_lines(raw, "?since=0");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["kind"] == "execute");
  CHECK(lines[0]["error"].get<std::string>().find("working_dir") == 0);
  CHECK(!lines[0].contains("exit_code"));
  auto bad = raw.Get("/trajectory?since=-1");
  REQUIRE(bad);
  CHECK(bad->status == 400);
  CHECK(json::parse(bad->body)["error"] == "since: \"-1\" is not a sequence number (expected 0, 1, 2, ...)");
}

TEST_CASE("GET /trajectory needs the token like every other endpoint") {
  RunningServer s(kPool);
  httplib::Client raw(s.address());
  auto r = raw.Get("/trajectory");
  REQUIRE(r);
  CHECK(r->status == 401);
}

TEST_CASE("at the cap the sidecar keeps running commands and GET says the trajectory is full") {
  RunningServer s("", 1 << 20, [](sidecar::ServerOptions& o) { o.trajectory_max_bytes = 2000; });
  SidecarClient c(s.address(), "");
  for (int i = 0; i < 10; ++i) CHECK(c.execute(sh("echo " + std::to_string(i))).stdout_data == std::to_string(i) + "\n");
  httplib::Client raw(s.address());
  auto r = raw.Get("/trajectory");
  REQUIRE(r);
  CHECK(r->get_header_value("X-Arl-Trajectory-Full") == "true");
  auto lines = get_lines(raw, "");
  REQUIRE(!lines.empty());
  CHECK(lines.back()["kind"] == "trajectory_full");
  CHECK(r->get_header_value("X-Arl-Trajectory-Last-Seq") == std::to_string(lines.size()));
}
