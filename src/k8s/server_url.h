#pragma once
// The parts of a kubeconfig `server` URL that the REST client connects with.
// A server may sit under a path prefix (Rancher's `https://host/k8s/clusters/c-1`,
// API gateways): every request path goes below it, so it must not be dropped.
#include <string>

namespace arl::k8s {

struct ServerUrl {
  bool tls = true;
  std::string host;        // without IPv6 brackets
  int port = 443;
  std::string base_path;   // "" or "/k8s/clusters/c-1" (no trailing slash)
};

/// Parses `https://host[:port][/prefix]` (or http://). `source` names where
/// the URL came from, for the error (e.g. the kubeconfig file).
ServerUrl parse_server_url(const std::string& server, const std::string& source);

}  // namespace arl::k8s
