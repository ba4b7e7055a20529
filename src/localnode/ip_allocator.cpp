#include "localnode/ip_allocator.h"

#include <charconv>

#include "core/error.h"

namespace arl::localnode {

namespace {
constexpr uint32_t kBenchBase = (198u << 24) | (18u << 16);  // 198.18.0.0/15
constexpr int kBenchPrefix = 15;
}  // namespace

uint32_t parse_ipv4(const std::string& s, const std::string& what) {
  uint32_t ip = 0;
  const char* p = s.data();
  const char* end = s.data() + s.size();
  for (int i = 0; i < 4; ++i) {
    unsigned octet = 0;
    auto [next, ec] = std::from_chars(p, end, octet);
    if (ec != std::errc{} || next == p || octet > 255 || next - p > 3) {
      throw Error(ErrorCode::invalid, what + " \"" + s + "\" is not a dotted IPv4 address");
    }
    ip = (ip << 8) | octet;
    p = next;
    if (i < 3) {
      if (p == end || *p != '.') throw Error(ErrorCode::invalid, what + " \"" + s + "\" is not a dotted IPv4 address");
      ++p;
    }
  }
  if (p != end) throw Error(ErrorCode::invalid, what + " \"" + s + "\" is not a dotted IPv4 address");
  return ip;
}

std::string format_ipv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

Cidr parse_pod_cidr(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) {
    throw Error(ErrorCode::invalid, "--pod-cidr \"" + s + "\" needs a prefix length, e.g. 198.18.0.0/16");
  }
  uint32_t ip = parse_ipv4(s.substr(0, slash), "--pod-cidr");
  int prefix = -1;
  auto plen = s.substr(slash + 1);
  auto [ptr, ec] = std::from_chars(plen.data(), plen.data() + plen.size(), prefix);
  if (ec != std::errc{} || ptr != plen.data() + plen.size() || prefix < kBenchPrefix || prefix > 30) {
    throw Error(ErrorCode::invalid,
                "--pod-cidr \"" + s + "\": the prefix length must be between 15 and 30 (inside 198.18.0.0/15)");
  }
  uint32_t mask = ~uint32_t{0} << (32 - prefix);
  if ((ip & mask) != ip) {
    throw Error(ErrorCode::invalid, "--pod-cidr \"" + s + "\" has host bits set; use " + format_ipv4(ip & mask) +
                                        "/" + std::to_string(prefix));
  }
  uint32_t bench_mask = ~uint32_t{0} << (32 - kBenchPrefix);
  if ((ip & bench_mask) != kBenchBase) {
    throw Error(ErrorCode::invalid, "--pod-cidr \"" + s +
                                        "\" is outside 198.18.0.0/15: the local node only uses the range reserved "
                                        "for benchmark testing");
  }
  return Cidr{ip, prefix};
}

IpAllocator::IpAllocator(Cidr cidr) : cidr_(cidr), cursor_(cidr.base + 2) {}

uint32_t IpAllocator::allocate(const std::string& owner) {
  std::lock_guard lk(mu_);
  if (auto it = by_owner_.find(owner); it != by_owner_.end()) return it->second;
  const uint32_t span = last() - first() + 1;
  for (uint32_t i = 0; i < span; ++i) {
    uint32_t ip = cursor_;
    cursor_ = cursor_ == last() ? first() : cursor_ + 1;
    if (by_ip_.count(ip)) continue;
    by_ip_[ip] = owner;
    by_owner_[owner] = ip;
    if (ip > high_) high_ = ip;
    return ip;
  }
  throw Error(ErrorCode::unavailable, "pod CIDR " + cidr_.str() + " is exhausted (" + std::to_string(span) +
                                          " pods); delete pods or start the node with a larger --pod-cidr");
}

bool IpAllocator::reserve(const std::string& owner, uint32_t ip) {
  std::lock_guard lk(mu_);
  if (ip < first() || ip > last()) return false;
  if (auto it = by_ip_.find(ip); it != by_ip_.end()) return it->second == owner;
  if (by_owner_.count(owner)) return false;
  by_ip_[ip] = owner;
  by_owner_[owner] = ip;
  if (ip > high_) high_ = ip;
  return true;
}

void IpAllocator::release(const std::string& owner) {
  std::lock_guard lk(mu_);
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  by_ip_.erase(it->second);
  by_owner_.erase(it);
}

std::optional<uint32_t> IpAllocator::ip_of(const std::string& owner) const {
  std::lock_guard lk(mu_);
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return std::nullopt;
  return it->second;
}

size_t IpAllocator::in_use() const {
  std::lock_guard lk(mu_);
  return by_ip_.size();
}

uint32_t IpAllocator::high_water() const {
  std::lock_guard lk(mu_);
  return high_;
}

}  // namespace arl::localnode
