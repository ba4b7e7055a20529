#pragma once
// The node's network namespace: one veth pair, host end <cidr>.1 outside,
// `eth0` inside carrying every pod IP as a /32. Set up once at start with
// `ip`, torn down at exit. What a crashed agent left is kept when its pods
// still run in it (they are taken over), else removed first.
#include <cstdint>
#include <mutex>
#include <string>

#include "localnode/ip_allocator.h"

namespace arl::localnode {

class NodeNetwork {
 public:
  NodeNetwork(std::string netns, Cidr cidr);
  ~NodeNetwork();
  NodeNetwork(const NodeNetwork&) = delete;
  NodeNetwork& operator=(const NodeNetwork&) = delete;

  /// Opens the netns fd, keeping an existing netns + veth of this name and
  /// address when `keep_existing` (pods of an earlier agent run in it), else
  /// removing leftovers and creating them. True when it kept them. Throws Error.
  bool setup(bool keep_existing);
  /// Deletes the veth and the netns; safe to call twice.
  void teardown();
  /// Makes sure every pod IP up to `ip` is configured inside the namespace.
  /// Addresses are added ahead in blocks (one `ip -batch` per block), so
  /// starting a pod normally costs no command at all.
  void ensure_address(uint32_t ip);

  int netns_fd() const { return fd_; }
  const std::string& netns() const { return netns_; }
  const std::string& host_if() const { return host_if_; }
  std::string host_ip() const { return format_ipv4(cidr_.base + 1); }

  /// Host end name derived from the namespace name (interface names are at most 15 bytes).
  static std::string host_if_name(const std::string& netns);

 private:
  bool intact(const std::string& prefix) const;

  std::string netns_;
  std::string host_if_;
  Cidr cidr_;
  int fd_ = -1;
  std::mutex mu_;
  uint32_t configured_up_to_ = 0;
};

}  // namespace arl::localnode
