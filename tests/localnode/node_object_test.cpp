#include <doctest/doctest.h>

#include "localnode/host_info.h"
#include "localnode/node_object.h"

using namespace arl::localnode;

TEST_CASE("go_arch maps uname machines to Go's names") {
  struct Row {
    const char* machine;
    const char* want;
  };
  const Row rows[] = {
      {"x86_64", "amd64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},     {"i686", "386"},
      {"armv7l", "arm"},   {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
      {"mips", "mips"},  // unknown: passed through
  };
  for (const auto& r : rows) {
    CAPTURE(r.machine);
    CHECK(go_arch(r.machine) == r.want);
  }
}

TEST_CASE("parse_meminfo_total reads MemTotal in bytes") {
  CHECK(parse_meminfo_total("MemTotal:        8048812 kB\nMemFree:  1 kB\n") == int64_t{8048812} * 1024);
  CHECK(parse_meminfo_total("MemFree: 1 kB\nMemTotal: 2 kB\n") == 2048);
  CHECK(parse_meminfo_total("MemFree: 1 kB\n") == std::nullopt);
  CHECK(parse_meminfo_total("MemTotal: lots\n") == std::nullopt);
  CHECK(parse_meminfo_total("MemTotal: 5 MB\n") == std::nullopt);
  CHECK(parse_meminfo_total("XMemTotal: 5 kB\n") == std::nullopt);
}

TEST_CASE("probe_host reports this machine") {
  auto h = probe_host();
  CHECK(h.cpus >= 1);
  CHECK(h.memory_bytes > 0);
  CHECK_FALSE(h.arch.empty());
}

namespace {
NodeIdentity identity() {
  return {"n1", "arl-x", "198.18.0.0/24", "198.18.0.1", 253, {4, int64_t{8} << 30, "arm64", "6.1.0"}};
}
}  // namespace

TEST_CASE("the Node carries the host's architecture, capacity and the labels selectors match") {
  auto id = identity();
  auto node = node_object(id);
  CHECK(node["metadata"]["labels"] == nlohmann::json{{"kubernetes.io/hostname", "n1"},
                                                     {"kubernetes.io/os", "linux"},
                                                     {"kubernetes.io/arch", "arm64"},
                                                     {"arl.infra.io/localnode", "true"}});
  CHECK(node["spec"]["podCIDR"] == "198.18.0.0/24");
  CHECK(node["metadata"]["annotations"]["arl.infra.io/netns"] == "arl-x");

  auto st = node_status_patch(id, "2026-01-01T00:00:00Z")["status"];
  CHECK(st["capacity"] == nlohmann::json{{"cpu", "4"}, {"memory", "8388608Ki"}, {"pods", "253"}});
  CHECK(st["allocatable"] == st["capacity"]);
  CHECK(st["nodeInfo"]["architecture"] == "arm64");
  CHECK(st["nodeInfo"]["kernelVersion"] == "6.1.0");
  CHECK(st["addresses"][0] == nlohmann::json{{"type", "InternalIP"}, {"address", "198.18.0.1"}});
  CHECK(st["conditions"][0]["type"] == "Ready");
  CHECK(st["conditions"][0]["lastHeartbeatTime"] == "2026-01-01T00:00:00Z");
}

TEST_CASE("the log server's port is the kubelet endpoint the API server reads logs from") {
  auto id = identity();
  CHECK(node_status_patch(id, "t")["status"]["daemonEndpoints"] ==
        nlohmann::json{{"kubeletEndpoint", {{"Port", 0}}}});
  id.kubelet_port = 40123;
  CHECK(node_status_patch(id, "t")["status"]["daemonEndpoints"] ==
        nlohmann::json{{"kubeletEndpoint", {{"Port", 40123}}}});
}

TEST_CASE("unknown memory is left out of the capacity rather than guessed") {
  auto id = identity();
  id.host.memory_bytes = 0;
  CHECK_FALSE(node_status_patch(id, "t")["status"]["capacity"].contains("memory"));
}
