#pragma once
// KubeApi over HTTPS to a real API server.
//
// Concurrency: each request borrows an HTTP client (one keep-alive TLS
// connection) from a free list and returns it afterwards, so callers on
// several threads run in parallel instead of queueing on one socket. At most
// `max_idle_connections` connections are kept; more are opened on demand.
//
// Retries: 429 and 5xx answers and connection failures are retried with
// exponential backoff (honouring Retry-After) up to `max_retries` times.
// POST (create, bind) is NOT retried on 5xx or on a read error after the
// request was sent, because the server may have acted on it; it is retried
// on 429 (rejected before processing) and when the connection never opened.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "k8s/kube_api.h"
#include "k8s/kubeconfig.h"

namespace httplib {
class ClientImpl;
}

namespace arl::k8s {

struct RestOptions {
  // Each new TLS connection costs a handshake and an SSL_CTX; keep enough
  // idle ones for the operator's workers and fan-outs.
  size_t max_idle_connections = 64;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // read/write timeout per request
  int max_retries = 4;
  std::chrono::milliseconds backoff_base{50};
  std::chrono::milliseconds backoff_max{5000};
  std::string user_agent = "arl";
};

struct RawResponse {
  int status = 0;
  std::string body;
  std::string content_type;
};

class RestClient : public KubeApi {
 public:
  explicit RestClient(ClusterConfig cfg, RestOptions opts = {});
  ~RestClient() override;
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  const ClusterConfig& config() const { return cfg_; }

  std::optional<json> get(const Resource& r, const std::string& ns, const std::string& name) override;
  ListResult list(const Resource& r, const std::string& ns, const ListOptions& opts = {}) override;
  json create(const Resource& r, const std::string& ns, const json& obj) override;
  json update(const Resource& r, const std::string& ns, const json& obj) override;
  json update_status(const Resource& r, const std::string& ns, const json& obj) override;
  json patch(const Resource& r, const std::string& ns, const std::string& name, PatchType type, const json& patch,
             bool status_subresource = false) override;
  bool remove(const Resource& r, const std::string& ns, const std::string& name,
              const DeleteOptions& opts = {}) override;
  void bind_pod(const std::string& ns, const std::string& pod, const std::string& node) override;
  void watch(const Resource& r, const std::string& ns, const WatchOptions& opts,
             const std::function<bool(const WatchEvent&)>& on_event, std::stop_token stop = {}) override;

  /// Any path (pod proxy, /metrics, /readyz). Throws arl::Error mapped from
  /// the status when it is not 2xx; returns the body.
  std::string raw_request(const std::string& method, const std::string& path, const std::string& body = "",
                          const std::string& content_type = "application/json",
                          const std::vector<std::pair<std::string, std::string>>& headers = {});
  /// Like raw_request but returns any HTTP status instead of throwing on it
  /// (still throws on transport failures).
  RawResponse raw(const std::string& method, const std::string& path, const std::string& body = "",
                  const std::string& content_type = "application/json",
                  const std::vector<std::pair<std::string, std::string>>& headers = {});
  /// GET (empty body) or POST with the response body delivered in chunks as
  /// it arrives; on_chunk returning false or `stop` ends it. No retries.
  /// Returns the HTTP status; a non-2xx body is delivered to on_chunk too.
  /// `timeout` bounds the wait for each read (0: request_timeout).
  int stream_request(const std::string& method, const std::string& path, const std::string& body,
                     const std::string& content_type, const std::function<bool(std::string_view)>& on_chunk,
                     std::stop_token stop = {}, std::chrono::milliseconds timeout = std::chrono::milliseconds{0},
                     const std::vector<std::pair<std::string, std::string>>& headers = {});

  /// Requests sent (including retries); for tests and benchmarks.
  uint64_t requests_sent() const { return requests_.load(); }

 private:
  struct Pool;
  struct Lease;
  struct Call {
    std::string method, path, body, content_type;
    std::vector<std::pair<std::string, std::string>> headers;
  };
  RawResponse execute(const Call& c, const Resource* r, const std::string& name);
  json json_call(const Call& c, const Resource* r, const std::string& name);
  int stream_impl(const std::string& method, const std::string& path, const std::string& body,
                  const std::string& content_type, const std::function<bool(std::string_view)>& on_chunk,
                  std::stop_token stop, std::chrono::milliseconds timeout,
                  const std::vector<std::pair<std::string, std::string>>& headers, int* status_out);
  std::unique_ptr<httplib::ClientImpl> make_client(std::chrono::milliseconds read_timeout) const;
  std::string bearer_token();

  ClusterConfig cfg_;
  RestOptions opts_;
  std::string host_;
  int port_ = 443;
  bool tls_ = true;
  std::string base_path_;  // the server URL's path prefix; every request goes below it
  std::unique_ptr<Pool> pool_;
  std::atomic<uint64_t> requests_{0};
  std::mutex token_mu_;
  std::string token_;
  std::chrono::steady_clock::time_point token_read_{};
};

}  // namespace arl::k8s
