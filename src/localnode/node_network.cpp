#include "localnode/node_network.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "localnode/host_command.h"

namespace arl::localnode {

namespace {
constexpr uint32_t kAddressBlock = 256;
constexpr const char* kNodeIf = "eth0";  // inside the namespace: no clash with host interfaces

// `ip -force -batch` output where every failed line only re-added an address
// that is there (after an agent restart kept the network): iproute2 says
// "File exists" or, in newer versions, "Address already assigned".
bool only_existing_addresses(const std::string& output) {
  std::istringstream lines(output);
  std::string line;
  bool any = false;
  while (std::getline(lines, line)) {
    if (line.rfind("Error:", 0) != 0 && line.find("RTNETLINK") == std::string::npos) continue;
    any = true;
    if (line.find("File exists") == std::string::npos && line.find("already assigned") == std::string::npos) {
      return false;
    }
  }
  return any;
}

}  // namespace

NodeNetwork::NodeNetwork(std::string netns, Cidr cidr)
    : netns_(std::move(netns)), host_if_(host_if_name(netns_)), cidr_(cidr) {}

NodeNetwork::~NodeNetwork() {
  if (fd_ >= 0) close(fd_);
}

std::string NodeNetwork::host_if_name(const std::string& netns) {
  std::string name = "arlh-" + netns;
  if (name.size() > 15) name.resize(15);
  return name;
}

bool NodeNetwork::setup(bool keep_existing) {
  if (netns_.empty() || netns_.find('/') != std::string::npos) {
    throw Error(ErrorCode::invalid, "--netns \"" + netns_ + "\" must be a plain name such as arl-node0");
  }
  const auto prefix = "/" + std::to_string(cidr_.prefix);
  if (keep_existing && intact(prefix)) {
    fd_ = open(("/run/netns/" + netns_).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) {
      // Which addresses exist is unknown: ensure_address adds blocks again (existing ones are skipped).
      configured_up_to_ = cidr_.base + 1;
      return true;
    }
  }
  // A crashed agent leaves both behind; deleting the host end removes the pair.
  run_host_command({"ip", "link", "del", host_if_});
  run_host_command({"ip", "netns", "del", netns_});
  run_host_command_checked({"ip", "netns", "add", netns_});
  run_host_command_checked({"ip", "link", "add", host_if_, "type", "veth", "peer", "name", kNodeIf, "netns", netns_});
  run_host_command_checked({"ip", "addr", "add", host_ip() + prefix, "dev", host_if_});
  run_host_command_checked({"ip", "link", "set", host_if_, "up"});
  run_host_command_checked({"ip", "-n", netns_, "link", "set", "lo", "up"});
  run_host_command_checked({"ip", "-n", netns_, "link", "set", kNodeIf, "up"});
  // Pod IPs are /32s, so the way back to the host end needs its own route.
  run_host_command_checked({"ip", "-n", netns_, "route", "add", host_ip() + "/32", "dev", kNodeIf});
  fd_ = open(("/run/netns/" + netns_).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw Error(ErrorCode::internal, "cannot open /run/netns/" + netns_ + " after creating it");
  configured_up_to_ = cidr_.base + 1;
  return false;
}

// The host end is up with the node's address and the namespace's end routes
// back to it: what setup() builds, so pods in the namespace are reachable.
bool NodeNetwork::intact(const std::string& prefix) const {
  auto host = run_host_command({"ip", "-o", "addr", "show", "dev", host_if_, "up"});
  if (host.status != 0 || host.output.find(" " + host_ip() + prefix + " ") == std::string::npos) return false;
  auto route = run_host_command({"ip", "-n", netns_, "route", "show", host_ip() + "/32", "dev", kNodeIf});
  return route.status == 0 && !route.output.empty();
}

void NodeNetwork::teardown() {
  std::lock_guard lk(mu_);
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  run_host_command({"ip", "link", "del", host_if_});
  run_host_command({"ip", "netns", "del", netns_});
  configured_up_to_ = 0;
}

void NodeNetwork::ensure_address(uint32_t ip) {
  std::lock_guard lk(mu_);
  if (ip <= configured_up_to_) return;
  const uint32_t last = cidr_.base + cidr_.size() - 2;
  uint32_t upto = configured_up_to_ + kAddressBlock;
  while (upto < ip) upto += kAddressBlock;
  if (upto > last) upto = last;
  char path[] = "/tmp/arl-localnode-ipbatch-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) throw Error(ErrorCode::internal, "cannot create a temporary file for `ip -batch`");
  std::string batch;
  for (uint32_t a = configured_up_to_ + 1; a <= upto; ++a) {
    batch += "addr add " + format_ipv4(a) + "/32 dev " + kNodeIf + "\n";
  }
  bool ok = write(fd, batch.data(), batch.size()) == static_cast<ssize_t>(batch.size());
  close(fd);
  if (!ok) {
    unlink(path);
    throw Error(ErrorCode::internal, "cannot write the `ip -batch` file");
  }
  // -force: an address that is already there must not stop the rest.
  auto r = run_host_command({"ip", "-n", netns_, "-force", "-batch", path});
  unlink(path);
  if (r.status != 0 && !only_existing_addresses(r.output)) {
    throw Error(ErrorCode::internal, "adding pod addresses in netns " + netns_ + " failed: " + r.output);
  }
  configured_up_to_ = upto;
}

}  // namespace arl::localnode
