#pragma once
// What the Node reports about the machine: read from the host at start, so
// a scheduler (and `kubectl describe node`) sees the real capacity and
// architecture instead of constants.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace arl::localnode {

struct HostInfo {
  int cpus = 1;
  int64_t memory_bytes = 0;  // 0: unknown, the Node then reports no memory
  std::string arch;          // GOARCH spelling, as kubernetes.io/arch expects
  std::string kernel_version;
};

/// Online CPUs (sysconf), MemTotal of /proc/meminfo, uname.
HostInfo probe_host();

/// uname's machine ("x86_64", "aarch64") as Go names it ("amd64", "arm64");
/// an unknown name is passed through, a label with it is still truthful.
std::string go_arch(std::string_view machine);

/// MemTotal of a /proc/meminfo text in bytes; nullopt when absent or malformed.
std::optional<int64_t> parse_meminfo_total(std::string_view meminfo);

}  // namespace arl::localnode
