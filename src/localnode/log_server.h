#pragma once
// Serves pod logs as a kubelet does, so the API server's pods/log (`kubectl
// logs`, any client's read_namespaced_pod_log) works for pods of the local
// node: GET /containerLogs/NS/POD/CONTAINER over HTTPS on the node's
// InternalIP (the host end of the veth, inside 198.18.0.0/15), on a port
// picked at start and published in the Node's daemonEndpoints. The API
// server runs without --kubelet-certificate-authority, so it does not verify
// the kubelet's certificate: a self-signed one is made in memory at start.
// Like the rest of the local node: local use only, no authentication.
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace arl::localnode {

/// Where a pod's log is and whether its process may still write to it.
struct PodLog {
  std::string path;
  std::string container;  // the one container that runs here
  std::function<bool()> running;
};

/// The log of pod "NS/NAME", nullopt when no process of it runs or ran here.
using FindLog = std::function<std::optional<PodLog>(const std::string& key)>;

/// kubelet's tailLines and limitBytes on a whole log: the last `tail_lines`
/// lines (a missing final newline still ends a line), then at most
/// `limit_bytes` from the start of what is left.
std::string select_log(const std::string& content, std::optional<long> tail_lines, std::optional<long> limit_bytes);

class LogServer {
 public:
  LogServer(std::string address, FindLog find);
  ~LogServer();
  LogServer(const LogServer&) = delete;
  LogServer& operator=(const LogServer&) = delete;

  /// Binds address:0 and serves in a thread of its own; returns the port.
  /// Throws Error{internal} when the certificate or the socket fails.
  int start();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arl::localnode
