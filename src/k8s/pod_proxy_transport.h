#pragma once
// A sandbox's sidecar through the API server's pod proxy
// (POST /api/v1/namespaces/NS/pods/POD:8080/proxy/<endpoint>), so users need
// no port-forward and no route to pod IPs. The pool's token goes in
// X-Arl-Token because Authorization carries the user's own credentials.
//
// Calls other than streams share the RestClient's pooled connections and so
// its request timeout (RestOptions::request_timeout): long commands belong
// in SidecarClient::execute_stream, whose reads wait as long as asked.
#include <string>

#include "k8s/sidecar_transport.h"

namespace arl::k8s {

class RestClient;

struct PodProxyTarget {
  std::string ns;
  std::string pod;
  /// The pool's sidecar token.
  std::string token;
  /// Named in messages ("sandbox s1: ...").
  std::string sandbox;
};

/// The proxy path of a sidecar endpoint ("/execute").
std::string pod_proxy_path(const std::string& ns, const std::string& pod, std::string_view endpoint);

class PodProxyTransport : public SidecarTransport {
 public:
  PodProxyTransport(RestClient& rest, PodProxyTarget target);

  SidecarReply request(std::string_view method, std::string_view endpoint, const std::string* body,
                       std::chrono::milliseconds timeout) override;
  int post_stream(std::string_view endpoint, const std::string& body,
                  const std::function<bool(std::string_view)>& on_chunk, std::chrono::milliseconds timeout,
                  std::stop_token stop) override;
  std::string name() const override;
  std::string refusal_message(std::string_view what, int status, const std::string* sidecar_error,
                              const std::string& body) const override;

 private:
  RestClient& rest_;
  PodProxyTarget target_;
};

}  // namespace arl::k8s
