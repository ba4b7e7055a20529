#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "k8s/sidecar_client.h"
#include "sidecar_test_util.h"
#include "tree_util.h"

using namespace arl;
using namespace arl::sidecar;
using arl::k8s::SidecarClient;
using arl::sidecar::testing::RunningServer;
using arl::sidecar::testing::put;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

json body_of(const httplib::Result& r) {
  REQUIRE(r);
  return json::parse(r->body);
}

}  // namespace

TEST_CASE("checkpoint, list, restore and delete over the wire") {
  RunningServer s;
  httplib::Client c(s.address());
  const fs::path w = s.dir.path;
  put(w / "app/main.py", "print(1)\n");
  put(w / "notes.txt", "keep me");

  auto created = c.Post("/checkpoints", R"({"name":"before-edit"})", "application/json");
  REQUIRE(created);
  CHECK(created->status == 200);
  json info = json::parse(created->body);
  const std::string id = info["id"];
  CHECK(id.size() == 8);
  CHECK(info["name"] == "before-edit");
  CHECK(info["files"] == 2);
  CHECK(info["directories"] == 1);
  CHECK(info["bytes"] == 16);
  CHECK(info["duration_ms"].is_number());
  // Outside the workdir: the private root sits in the temp dir, not in s.dir.
  CHECK(s.server->checkpoints().root().find(s.dir.path) == std::string::npos);

  auto list = body_of(c.Get("/checkpoints"));
  REQUIRE(list["checkpoints"].size() == 1);
  CHECK(list["checkpoints"][0]["id"] == id);
  CHECK(list["used_bytes"] == 16);
  CHECK(list["max_bytes"] == kDefaultCheckpointMaxBytes);

  put(w / "app/main.py", "print(2)\n");
  fs::remove(w / "notes.txt");
  put(w / "build/out.o", "junk");
  auto restored = c.Post("/checkpoints/" + id + "/restore", "{}", "application/json");
  REQUIRE(restored);
  CHECK(restored->status == 200);
  json r = json::parse(restored->body);
  CHECK(r["id"] == id);
  CHECK(r["written"] == 2);
  CHECK(r["removed"] == 2);  // build/out.o and build
  CHECK(r["killed"] == 0);
  CHECK(r["duration_ms"].is_number());
  CHECK(testing::read_file((w / "app/main.py").string()) == "print(1)\n");
  CHECK(testing::read_file((w / "notes.txt").string()) == "keep me");
  CHECK(!fs::exists(w / "build"));

  // By name as well as by id.
  CHECK(c.Post("/checkpoints/before-edit/restore", "", "application/json")->status == 200);

  auto deleted = c.Delete(("/checkpoints/" + id).c_str());
  REQUIRE(deleted);
  CHECK(deleted->status == 200);
  CHECK(json::parse(deleted->body) == json{{"id", id}, {"freed_bytes", 16}});
  CHECK(body_of(c.Get("/checkpoints"))["checkpoints"].empty());
}

TEST_CASE("unknown checkpoints are 404 with a message; bad requests 400") {
  RunningServer s;
  httplib::Client c(s.address());
  auto del = c.Delete("/checkpoints/0badc0de");
  REQUIRE(del);
  CHECK(del->status == 404);
  CHECK(json::parse(del->body)["error"] ==
        "checkpoint \"0badc0de\": no checkpoint has this id or name (GET /checkpoints lists them)");
  auto restore = c.Post("/checkpoints/0badc0de/restore", "{}", "application/json");
  REQUIRE(restore);
  CHECK(restore->status == 404);
  auto bad_name = c.Post("/checkpoints", R"({"name":"../x"})", "application/json");
  REQUIRE(bad_name);
  CHECK(bad_name->status == 400);
  CHECK(json::parse(bad_name->body)["error"] ==
        "name: must be 1-63 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
  auto bad_flag = c.Post("/checkpoints/x/restore", R"({"kill_processes":"yes"})", "application/json");
  REQUIRE(bad_flag);
  CHECK(bad_flag->status == 400);
}

TEST_CASE("a checkpoint over the space cap is refused with 507 and nothing is kept") {
  RunningServer s("", 1 << 20, [](ServerOptions& o) { o.checkpoint_max_bytes = 10; });
  httplib::Client c(s.address());
  put(fs::path(s.dir.path) / "big.txt", std::string(11, 'x'));
  auto r = c.Post("/checkpoints", "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 507);
  CHECK(json::parse(r->body)["error"] ==
        "checkpoint: the workdir holds 11 bytes of file data but only 10 of the 10-byte checkpoint cap are free (0 "
        "checkpoint(s) use 0); delete some (DELETE /checkpoints/{id}) or raise --checkpoint-max-bytes");
  CHECK(fs::is_empty(s.server->checkpoints().root()));
}

TEST_CASE("restore with kill_processes stops the sandbox's background processes first") {
  RunningServer s;
  httplib::Client c(s.address());
  SidecarClient client(s.address(), "");
  auto id = body_of(c.Post("/checkpoints", "{}", "application/json"))["id"].get<std::string>();
  core::ExecuteRequest bg;
  bg.command = {"sh", "-c", "while true; do echo x >> log.txt; sleep 0.05; done"};
  bg.background = true;
  auto started = client.execute(bg);
  REQUIRE(started.pid);
  auto r = body_of(c.Post("/checkpoints/" + id + "/restore", R"({"kill_processes":true})", "application/json"));
  CHECK(r["killed"] == 1);
  CHECK(testing::wait_gone(*started.pid, 5000));
  CHECK(!fs::exists(fs::path(s.dir.path) / "log.txt"));
}

TEST_CASE("checkpoint endpoints need the token like every other endpoint") {
  RunningServer s("s3cret-token-0123456789");
  httplib::Client c(s.address());
  auto no = c.Post("/checkpoints", "{}", "application/json");
  REQUIRE(no);
  CHECK(no->status == 401);
  auto list = c.Get("/checkpoints");
  REQUIRE(list);
  CHECK(list->status == 401);
  auto ok = c.Get("/checkpoints", {{"X-Arl-Token", "s3cret-token-0123456789"}});
  REQUIRE(ok);
  CHECK(ok->status == 200);
}
