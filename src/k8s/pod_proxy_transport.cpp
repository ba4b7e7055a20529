#include "k8s/pod_proxy_transport.h"

#include <fmt/format.h>

#include "core/names.h"
#include "k8s/rest_client.h"
#include "k8s/status_error.h"

namespace arl::k8s {

std::string pod_proxy_path(const std::string& ns, const std::string& pod, std::string_view endpoint) {
  if (!endpoint.empty() && endpoint.front() == '/') endpoint.remove_prefix(1);
  return fmt::format("/api/v1/namespaces/{}/pods/{}:{}/proxy/{}", ns, pod, kSidecarPort, endpoint);
}

PodProxyTransport::PodProxyTransport(RestClient& rest, PodProxyTarget target)
    : rest_(rest), target_(std::move(target)) {}

std::string PodProxyTransport::name() const { return "sandbox " + target_.sandbox; }

std::string PodProxyTransport::refusal_message(std::string_view, int status, const std::string* sidecar_error,
                                               const std::string& body) const {
  if (sidecar_error) return fmt::format("sandbox {}: the executor refused the request: {}", target_.sandbox, *sidecar_error);
  // Not the sidecar's answer: the API server's (pod gone, no route to it).
  auto e = status_error(status, body, &resources::pods, target_.pod);
  return fmt::format("sandbox {} (pod {}): {}", target_.sandbox, target_.pod, e.what());
}

SidecarReply PodProxyTransport::request(std::string_view method, std::string_view endpoint, const std::string* body,
                                        std::chrono::milliseconds) {
  auto res = rest_.raw(std::string(method), pod_proxy_path(target_.ns, target_.pod, endpoint), body ? *body : "",
                       "application/json", {{std::string(kTokenHeader), target_.token}});
  return {res.status, std::move(res.body)};
}

int PodProxyTransport::post_stream(std::string_view endpoint, const std::string& body,
                                   const std::function<bool(std::string_view)>& on_chunk,
                                   std::chrono::milliseconds timeout, std::stop_token stop) {
  return rest_.stream_request("POST", pod_proxy_path(target_.ns, target_.pod, endpoint), body, "application/json",
                              on_chunk, stop, timeout, {{std::string(kTokenHeader), target_.token}});
}

}  // namespace arl::k8s
