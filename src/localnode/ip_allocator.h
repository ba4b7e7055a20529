#pragma once
// Pod IPs of the local node. The pod CIDR must lie inside 198.18.0.0/15 (the
// range reserved for benchmark testing) so the agent never touches an
// address anyone else could own. The first host address is the host end of
// the veth; pods get the rest.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace arl::localnode {

/// "198.18.0.7" <-> host-order integer. parse throws Error{invalid} naming `what`.
uint32_t parse_ipv4(const std::string& s, const std::string& what = "IPv4 address");
std::string format_ipv4(uint32_t ip);

struct Cidr {
  uint32_t base = 0;  // network address
  int prefix = 0;
  uint32_t size() const { return prefix == 0 ? 0 : (uint32_t{1} << (32 - prefix)); }
  bool contains(uint32_t ip) const { return size() && ip - base < size(); }
  std::string str() const { return format_ipv4(base) + "/" + std::to_string(prefix); }
};

/// Parses "A.B.C.D/N" and checks it is inside 198.18.0.0/15 with room for
/// at least a host address and one pod (N <= 30). Throws Error{invalid}.
Cidr parse_pod_cidr(const std::string& s);

/// Hands out pod IPs, next-fit: after an IP is released it is handed out
/// again only once the cursor wraps around, so a client still holding a
/// deleted pod's IP does not reach a brand-new pod at once. Thread-safe.
class IpAllocator {
 public:
  explicit IpAllocator(Cidr cidr);

  const Cidr& cidr() const { return cidr_; }
  /// The host end of the veth: network address + 1.
  uint32_t host_ip() const { return cidr_.base + 1; }

  /// A free IP for `owner` (an existing owner gets its IP back).
  /// Throws Error{unavailable} when the range is exhausted.
  uint32_t allocate(const std::string& owner);
  /// Claims a specific IP (a pod restarted by a new agent keeps its address).
  /// false when it is outside the pod range or taken by another owner.
  bool reserve(const std::string& owner, uint32_t ip);
  void release(const std::string& owner);
  std::optional<uint32_t> ip_of(const std::string& owner) const;
  size_t in_use() const;
  /// Highest IP ever handed out (0 if none); the agent adds addresses up to it.
  uint32_t high_water() const;

 private:
  uint32_t first() const { return cidr_.base + 2; }
  uint32_t last() const { return cidr_.base + cidr_.size() - 2; }  // broadcast excluded

  Cidr cidr_;
  mutable std::mutex mu_;
  uint32_t cursor_;
  uint32_t high_ = 0;
  std::map<uint32_t, std::string> by_ip_;
  std::map<std::string, uint32_t> by_owner_;
};

}  // namespace arl::localnode
