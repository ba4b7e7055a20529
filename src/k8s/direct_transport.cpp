#include "k8s/direct_transport.h"

#include <cmath>

#include <httplib.h>

#include "core/error.h"
#include "core/sidecar_protocol.h"

namespace arl::k8s {
namespace {

using Clock = std::chrono::steady_clock;

std::string normalize_base(std::string url) {
  if (url.rfind("https://", 0) == 0)
    throw Error(ErrorCode::invalid, "sidecar address \"" + url + "\": the sidecar speaks plain HTTP");
  if (url.rfind("http://", 0) == 0) url = url.substr(7);
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.empty()) throw Error(ErrorCode::invalid, "sidecar address: empty; expected host:port");
  // "host" or "[v6]" without a port: the sidecar's default port.
  bool has_port = false;
  if (url.front() == '[') has_port = url.find("]:") != std::string::npos;
  else has_port = url.find(':') != std::string::npos;
  if (!has_port) url += ":" + std::to_string(kSidecarPort);
  return "http://" + url;
}

std::pair<time_t, time_t> sec_usec(double seconds) {
  if (seconds <= 0) seconds = 1;
  auto sec = static_cast<time_t>(seconds);
  return {sec, static_cast<time_t>((seconds - static_cast<double>(sec)) * 1e6)};
}

void set_read_timeout(httplib::Client& c, std::chrono::milliseconds timeout) {
  auto [sec, usec] = sec_usec(std::chrono::duration<double>(timeout).count());
  c.set_read_timeout(sec, usec);
}

}  // namespace

DirectTransport::DirectTransport(DirectOptions options)
    : base_(normalize_base(options.address)),
      token_(std::move(options.token)),
      cli_(std::make_unique<httplib::Client>(base_)) {
  cli_->set_keep_alive(true);
  cli_->set_tcp_nodelay(true);
  auto [sec, usec] = sec_usec(options.connect_timeout_seconds);
  cli_->set_connection_timeout(sec, usec);
  cli_->set_write_timeout(30, 0);
}

DirectTransport::~DirectTransport() = default;

std::string DirectTransport::name() const { return "sidecar " + base_; }

std::string DirectTransport::refusal_message(std::string_view what, int status, const std::string* sidecar_error,
                                             const std::string& body) const {
  return std::string(what) + ": sidecar answered " + std::to_string(status) + ": " +
         (sidecar_error ? *sidecar_error : body.substr(0, 200));
}

void DirectTransport::throw_transport(std::string_view what, int err, std::chrono::duration<double> waited,
                                      std::chrono::milliseconds timeout) const {
  const auto e = static_cast<httplib::Error>(err);
  std::string msg = name() + " " + std::string(what) + ": " + httplib::to_string(e);
  const double timeout_s = std::chrono::duration<double>(timeout).count();
  if (e == httplib::Error::Read && waited.count() + 0.05 >= timeout_s)
    throw Error(ErrorCode::timeout,
                msg + " (no reply within " + std::to_string(static_cast<int>(std::ceil(timeout_s))) + "s)");
  throw Error(ErrorCode::unavailable, msg);
}

SidecarReply DirectTransport::request(std::string_view method, std::string_view endpoint, const std::string* body,
                                      std::chrono::milliseconds timeout) {
  httplib::Headers headers;
  if (!token_.empty()) headers.emplace(std::string(kTokenHeader), token_);
  const std::string path(endpoint);
  std::lock_guard lock(mu_);
  set_read_timeout(*cli_, timeout);
  const auto start = Clock::now();
  httplib::Result r = method == "DELETE" ? cli_->Delete(path.c_str(), headers)
                     : body            ? cli_->Post(path.c_str(), headers, *body, "application/json")
                                       : cli_->Get(path.c_str(), headers);
  if (!r) throw_transport(std::string(method) + " " + path, static_cast<int>(r.error()), Clock::now() - start, timeout);
  return {r->status, std::move(r->body)};
}

int DirectTransport::post_stream(std::string_view endpoint, const std::string& body,
                                 const std::function<bool(std::string_view)>& on_chunk,
                                 std::chrono::milliseconds timeout, std::stop_token stop) {
  httplib::Request req;
  req.method = "POST";
  req.path = std::string(endpoint);
  if (!token_.empty()) req.headers.emplace(std::string(kTokenHeader), token_);
  req.headers.emplace("Accept", core::kNdjsonContentType);
  req.headers.emplace("Content-Type", "application/json");
  req.body = body;
  int status = 0;
  bool consumer_stopped = false;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return !stop.stop_requested();
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (stop.stop_requested()) return false;
    consumer_stopped = !on_chunk(std::string_view(data, n));
    return !consumer_stopped;
  };

  std::lock_guard lock(mu_);
  if (stop.stop_requested()) return 0;
  set_read_timeout(*cli_, timeout);
  // A silent command sends nothing to notice a stop by: shutting the socket
  // down wakes the read (the next call reconnects).
  std::stop_callback on_stop(stop, [this] { cli_->stop(); });
  const auto start = Clock::now();
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  if (cli_->send(req, res, err) || stop.stop_requested() || consumer_stopped) return status;
  throw_transport("POST " + req.path + " (stream)", static_cast<int>(err), Clock::now() - start, timeout);
}

}  // namespace arl::k8s
