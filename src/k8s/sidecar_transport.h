#pragma once
// How a SidecarClient reaches a sidecar: directly at podIP:8080 (the
// operator, the benches) or through the API server's pod proxy (the kubectl
// plugin, which has no route to pod IPs). The client encodes, decodes and
// maps statuses to errors; a transport only moves bytes and names itself.
#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

namespace arl::k8s {

struct SidecarReply {
  int status = 0;
  std::string body;
};

class SidecarTransport {
 public:
  virtual ~SidecarTransport() = default;

  /// GET (body null), POST (JSON body) or DELETE (method "DELETE", body
  /// null) of an endpoint such as "/files".
  /// Any HTTP status is a reply; throws Error{unavailable|timeout} when no
  /// reply came.
  virtual SidecarReply request(std::string_view method, std::string_view endpoint, const std::string* body,
                               std::chrono::milliseconds timeout) = 0;

  /// POST whose reply body goes to on_chunk as it arrives (a non-2xx body
  /// too). on_chunk returning false, or `stop`, ends it early without an
  /// error. `timeout` bounds each wait for data. Returns the HTTP status (0:
  /// stopped before the headers); throws like request().
  virtual int post_stream(std::string_view endpoint, const std::string& body,
                          const std::function<bool(std::string_view)>& on_chunk, std::chrono::milliseconds timeout,
                          std::stop_token stop) = 0;

  /// How errors name the sidecar: "sidecar http://10.0.0.5:8080", "sandbox s1".
  virtual std::string name() const = 0;

  /// The message of a refused call (`what` = "POST /files"). sidecar_error is
  /// the sidecar's own {"error"} text when the body is one; otherwise the
  /// body may be a hop's own answer (the API server's Status).
  virtual std::string refusal_message(std::string_view what, int status, const std::string* sidecar_error,
                                      const std::string& body) const = 0;
};

}  // namespace arl::k8s
