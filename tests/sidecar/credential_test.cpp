#include <doctest/doctest.h>

#include <sys/prctl.h>

#include <string>
#include <vector>

#include <httplib.h>

#include "core/error.h"
#include "k8s/sidecar_client.h"
#include "sidecar/credential.h"
#include "sidecar_test_util.h"

using namespace arl;
using arl::k8s::SidecarClient;
using arl::sidecar::testing::RunningServer;

namespace {
const std::string& kPool = arl::sidecar::testing::kPoolToken;
const std::string& kOwn = arl::sidecar::testing::kSandboxToken;

int status_with(const RunningServer& s, const std::string& token) {
  httplib::Client raw(s.address());
  auto r = raw.Get("/processes", {{"X-Arl-Token", token}});
  REQUIRE(r);
  return r->status;
}
}  // namespace

TEST_CASE("bind: the pool token works until the pod is bound, then only the sandbox's own token") {
  RunningServer s(kPool);
  CHECK(status_with(s, kPool) == 200);
  auto r = SidecarClient(s.address(), kPool).bind({kOwn});
  CHECK(r.bound);
  CHECK_FALSE(r.already);
  CHECK(status_with(s, kPool) == 401);
  CHECK(status_with(s, kOwn) == 200);
  CHECK(status_with(s, kOwn + "x") == 401);
}

TEST_CASE("bind: again with the same token is a no-op, another token is 409, the pool token is 401") {
  RunningServer s(kPool);
  SidecarClient(s.address(), kPool).bind({kOwn});
  SidecarClient own(s.address(), kOwn);
  CHECK(own.bind({kOwn}).already);
  CHECK_THROWS_WITH_AS(own.bind({"another-token-0123456789"}),
                       "POST /bind: sidecar answered 409: token: this sidecar is already bound to another sandbox's token",
                       Error);
  CHECK_THROWS_WITH_AS(SidecarClient(s.address(), kPool).bind({kOwn}),
                       "POST /bind: sidecar answered 401: token: wrong token", Error);
  CHECK(status_with(s, kOwn) == 200);
}

TEST_CASE("bind: a malformed token is refused with 400 naming the field and changes nothing") {
  RunningServer s(kPool);
  SidecarClient c(s.address(), kPool);
  for (const std::string& bad : std::vector<std::string>{"short", "has space 0123456789", std::string(257, 'a')})
    CHECK_THROWS_WITH_AS(c.bind({bad}),
                         "POST /bind: sidecar answered 400: token: must be 16-256 visible ASCII characters without spaces",
                         Error);
  httplib::Client raw(s.address());
  auto missing = raw.Post("/bind", {{"X-Arl-Token", kPool}}, "{}", "application/json");
  REQUIRE(missing);
  CHECK(missing->status == 400);
  CHECK(missing->body.find("token: required") != std::string::npos);
  CHECK(status_with(s, kPool) == 200);
}

TEST_CASE("bind: a sidecar started without a token requires the bound one afterwards") {
  RunningServer s("");
  CHECK(status_with(s, "") == 200);
  SidecarClient(s.address(), "").bind({kOwn});
  CHECK(status_with(s, "") == 401);
  CHECK(status_with(s, kOwn) == 200);
}

TEST_CASE("take_env_secret returns the value and leaves it neither in getenv nor in the entry's bytes") {
  ::setenv("ARL_TEST_SECRET", "top-secret-value", 1);
  char* entry = ::getenv("ARL_TEST_SECRET");  // points into the NAME=VALUE entry
  REQUIRE(entry != nullptr);
  CHECK(sidecar::take_env_secret("ARL_TEST_SECRET") == "top-secret-value");
  CHECK(::getenv("ARL_TEST_SECRET") == nullptr);
  // glibc keeps setenv's strings alive (it never frees them), so the bytes
  // that /proc/self/environ would show for an exec-time entry can be read.
  CHECK(std::string(entry, 16) == std::string(16, '\0'));
  CHECK(sidecar::take_env_secret("ARL_TEST_SECRET") == "");
}

TEST_CASE("harden_process makes the process non-dumpable") {
  int before = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  sidecar::harden_process();
  CHECK(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
  ::prctl(PR_SET_DUMPABLE, before, 0, 0, 0);
}
