#pragma once
// A sidecar at its own address (podIP:8080) over one keep-alive HTTP
// connection: the latency path of the operator. Calls on one transport are
// serialized; use one per concurrent caller.
#include <memory>
#include <mutex>
#include <string>

#include "k8s/sidecar_transport.h"

namespace httplib {
class Client;
}

namespace arl::k8s {

struct DirectOptions {
  /// "host:port", "http://host:port" or "host" (port 8080).
  std::string address;
  /// Sent as X-Arl-Token.
  std::string token;
  double connect_timeout_seconds = 5;
};

class DirectTransport : public SidecarTransport {
 public:
  explicit DirectTransport(DirectOptions options);
  ~DirectTransport() override;

  SidecarReply request(std::string_view method, std::string_view endpoint, const std::string* body,
                       std::chrono::milliseconds timeout) override;
  int post_stream(std::string_view endpoint, const std::string& body,
                  const std::function<bool(std::string_view)>& on_chunk, std::chrono::milliseconds timeout,
                  std::stop_token stop) override;
  std::string name() const override;
  std::string refusal_message(std::string_view what, int status, const std::string* sidecar_error,
                              const std::string& body) const override;

 private:
  [[noreturn]] void throw_transport(std::string_view what, int err, std::chrono::duration<double> waited,
                                    std::chrono::milliseconds timeout) const;

  std::string base_;
  std::string token_;
  std::unique_ptr<httplib::Client> cli_;
  std::mutex mu_;
};

}  // namespace arl::k8s
