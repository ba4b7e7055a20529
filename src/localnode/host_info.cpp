#include "localnode/host_info.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

namespace arl::localnode {

std::string go_arch(std::string_view machine) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"x86_64", "amd64"}, {"amd64", "amd64"},     {"aarch64", "arm64"},  {"arm64", "arm64"},
      {"i386", "386"},     {"i686", "386"},        {"armv7l", "arm"},     {"armv6l", "arm"},
      {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
  };
  for (const auto& [uname, go] : kNames) {
    if (machine == uname) return std::string(go);
  }
  return std::string(machine);
}

std::optional<int64_t> parse_meminfo_total(std::string_view meminfo) {
  constexpr std::string_view key = "MemTotal:";
  auto at = meminfo.find(key);
  if (at == std::string_view::npos || (at > 0 && meminfo[at - 1] != '\n')) return std::nullopt;
  auto rest = meminfo.substr(at + key.size());
  auto digits = rest.find_first_not_of(' ');
  if (digits == std::string_view::npos) return std::nullopt;
  rest = rest.substr(digits);
  int64_t kib = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  if (ec != std::errc() || kib <= 0) return std::nullopt;
  // The kernel writes "kB" but means KiB.
  if (std::string_view(end, rest.data() + rest.size()).substr(0, 3) != " kB") return std::nullopt;
  return kib * 1024;
}

HostInfo probe_host() {
  HostInfo h;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  h.cpus = n > 0 ? static_cast<int>(n) : 1;
  std::ifstream f("/proc/meminfo");
  std::stringstream text;
  text << f.rdbuf();
  h.memory_bytes = parse_meminfo_total(text.str()).value_or(0);
  utsname u{};
  if (uname(&u) == 0) {
    h.arch = go_arch(u.machine);
    h.kernel_version = u.release;
  }
  return h;
}

}  // namespace arl::localnode
