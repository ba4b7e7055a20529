// The operator's side of a fork against two real sidecars on loopback: the
// source at 127.0.0.1:P and the fork at 127.0.0.2:P, as two pods share the
// sidecar port at different IPs.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "operator/sidecar_forker.h"
#include "sidecar/sidecar_test_util.h"
#include "sidecar/tree_util.h"

using namespace arl;
using arl::sidecar::testing::RunningServer;
using arl::sidecar::testing::describe;
using arl::sidecar::testing::put;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSource = "source-token-0123456789abcdef";
const std::string kFork = "fork-token-0123456789abcdef";

json checkpoints(const std::string& address, const std::string& token) {
  httplib::Client c(address);
  auto r = c.Get("/checkpoints", {{"X-Arl-Token", token}});
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return json::parse(r->body)["checkpoints"];
}

}  // namespace

TEST_CASE("the forker copies the source's workdir into the fork's, straight or restored over what is there") {
  RunningServer src(kSource);
  RunningServer fork(kFork, 1 << 20, [&](sidecar::ServerOptions& o) { o.listen = "127.0.0.2:" + std::to_string(src.port); });
  const std::string fork_address = "127.0.0.2:" + std::to_string(src.port);
  put(fs::path(src.dir.path) / "repo/main.py", "print('x')\n", 0755);
  put(fs::path(src.dir.path) / "notes.txt", "n\n");
  const auto forker = op::sidecar_forker(src.port);
  const op::ForkTransfer transfer{"127.0.0.2", kFork, "127.0.0.1", kSource, ""};

  SUBCASE("an empty workdir: written straight, no checkpoint kept in the fork; the one taken on the source is deleted") {
    auto copied = forker(transfer);
    CHECK(copied.files == 2);
    CHECK(copied.bytes == 13);
    CHECK(copied.checkpoint.size() == 8);
    CHECK(describe(fork.dir.path) == describe(src.dir.path));
    CHECK(checkpoints(fork_address, kFork).empty());
    CHECK(checkpoints(src.address(), kSource).empty());
  }
  SUBCASE("a workdir with files (a template's own volume): restored over them") {
    put(fs::path(fork.dir.path) / "from-the-image.txt", "old");
    forker(transfer);
    CHECK(describe(fork.dir.path) == describe(src.dir.path));
    CHECK(checkpoints(fork_address, kFork).size() == 1);
  }
  SUBCASE("a named checkpoint of the source is copied and left in place") {
    httplib::Client c(src.address());
    auto made = c.Post("/checkpoints", {{"X-Arl-Token", kSource}}, R"({"name":"step-3"})", "application/json");
    REQUIRE(made);
    REQUIRE(made->status == 200);
    op::ForkTransfer named = transfer;
    named.checkpoint = "step-3";
    CHECK(forker(named).checkpoint == "step-3");
    CHECK(describe(fork.dir.path) == describe(src.dir.path));
    CHECK(checkpoints(src.address(), kSource).size() == 1);
  }
  SUBCASE("a failure names the side it happened on") {
    op::ForkTransfer missing = transfer;
    missing.checkpoint = "nope";
    CHECK_THROWS_WITH(forker(missing), doctest::Contains("import into the fork"));
  }
}
