#include "sidecar/sidecar_client.h"

#include <chrono>
#include <cmath>
#include <mutex>

#include <httplib.h>

#include "core/error.h"

namespace arl::sidecar {
namespace {

using nlohmann::json;
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
  if (!has_port) url += ":" + std::to_string(core::kSidecarDefaultPort);
  return "http://" + url;
}

void set_timeout(httplib::Client& c, double seconds, bool read) {
  if (seconds <= 0) seconds = 1;
  auto sec = static_cast<time_t>(seconds);
  auto usec = static_cast<time_t>((seconds - static_cast<double>(sec)) * 1e6);
  if (read) c.set_read_timeout(sec, usec);
  else c.set_connection_timeout(sec, usec);
}

}  // namespace

struct SidecarClient::Impl {
  ClientOptions opts;
  std::string base;
  httplib::Client cli;
  std::mutex mu;

  explicit Impl(ClientOptions o) : opts(std::move(o)), base(normalize_base(opts.base_url)), cli(base) {
    cli.set_keep_alive(true);
    cli.set_tcp_nodelay(true);
    set_timeout(cli, opts.connect_timeout_seconds, false);
    set_timeout(cli, opts.read_timeout_seconds, true);
    cli.set_write_timeout(30, 0);
  }

  httplib::Headers headers() const {
    httplib::Headers h;
    if (!opts.token.empty()) h.emplace(core::kSidecarTokenHeader, opts.token);
    return h;
  }

  [[noreturn]] void throw_transport(const std::string& what, httplib::Error err, double waited_s, double timeout_s) {
    std::string msg = "sidecar " + base + " " + what + ": " + httplib::to_string(err);
    if (err == httplib::Error::Read && waited_s + 0.05 >= timeout_s)
      throw Error(ErrorCode::timeout, msg + " (no reply within " + std::to_string(static_cast<int>(std::ceil(timeout_s))) + "s)");
    throw Error(ErrorCode::unavailable, msg);
  }

  [[noreturn]] static void throw_status(const std::string& what, int status, const std::string& body) {
    std::string message;
    try {
      auto j = json::parse(body);
      if (j.is_object() && j.contains("error") && j["error"].is_string()) message = j["error"].get<std::string>();
    } catch (...) {
    }
    if (message.empty()) message = body.substr(0, 200);
    message = what + ": sidecar answered " + std::to_string(status) + ": " + message;
    ErrorCode code = status == 401 ? ErrorCode::unauthorized
                     : status == 403 ? ErrorCode::forbidden
                     : status == 404 ? ErrorCode::not_found
                     : status == 409 ? ErrorCode::conflict
                     : status < 500  ? ErrorCode::invalid
                                     : ErrorCode::unavailable;
    throw Error(code, message);
  }

  json call(const char* method, const std::string& path, const json* body, double read_timeout_s) {
    std::lock_guard<std::mutex> lk(mu);
    set_timeout(cli, read_timeout_s, true);
    const auto start = Clock::now();
    httplib::Result r = body ? cli.Post(path.c_str(), headers(), body->dump(), "application/json")
                             : cli.Get(path.c_str(), headers());
    if (!r) {
      double waited = std::chrono::duration<double>(Clock::now() - start).count();
      throw_transport(std::string(method) + " " + path, r.error(), waited, read_timeout_s);
    }
    if (r->status != 200) throw_status(std::string(method) + " " + path, r->status, r->body);
    try {
      return json::parse(r->body);
    } catch (const json::parse_error&) {
      throw Error(ErrorCode::unavailable, std::string(method) + " " + path + ": sidecar sent invalid JSON");
    }
  }

  double execute_timeout(const core::ExecuteRequest& req) const {
    if (req.background) return opts.read_timeout_seconds;
    return req.timeout_seconds.value_or(core::kSidecarDefaultTimeoutSeconds) + opts.execute_grace_seconds;
  }
};

SidecarClient::SidecarClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
SidecarClient::SidecarClient(const std::string& base_url, const std::string& token)
    : SidecarClient(ClientOptions{base_url, token}) {}
SidecarClient::~SidecarClient() = default;
SidecarClient::SidecarClient(SidecarClient&&) noexcept = default;
SidecarClient& SidecarClient::operator=(SidecarClient&&) noexcept = default;

const ClientOptions& SidecarClient::options() const { return impl_->opts; }

core::HealthResponse SidecarClient::health() {
  return impl_->call("GET", "/health", nullptr, impl_->opts.read_timeout_seconds).get<core::HealthResponse>();
}

core::FileWriteResponse SidecarClient::write_file(const core::FileWriteRequest& request) {
  json body = request;
  return impl_->call("POST", "/files", &body, impl_->opts.read_timeout_seconds).get<core::FileWriteResponse>();
}

core::ExecuteResponse SidecarClient::execute(const core::ExecuteRequest& request) {
  core::ExecuteRequest r = request;
  r.stream = false;
  json body = r;
  return impl_->call("POST", "/execute", &body, impl_->execute_timeout(r)).get<core::ExecuteResponse>();
}

core::ExecuteResponse SidecarClient::execute_stream(const core::ExecuteRequest& request,
                                                    const std::function<void(const core::ExecEvent&)>& on_event) {
  if (request.background) return execute(request);
  core::ExecuteRequest r = request;
  r.stream = true;
  const double timeout_s = impl_->execute_timeout(r);

  core::ExecuteResponse agg;
  agg.done = false;
  std::string pending;   // bytes of an incomplete line
  std::string raw_body;  // kept only for a non-200 reply
  bool saw_end = false;
  std::string error_event;
  int status = 0;

  httplib::Request req;
  req.method = "POST";
  req.path = "/execute";
  req.headers = impl_->headers();
  req.headers.emplace("Accept", core::kNdjsonContentType);
  req.body = json(r).dump();
  req.set_header("Content-Type", "application/json");
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      raw_body.append(data, n);
      return true;
    }
    pending.append(data, n);
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string_view line(pending.data() + start, nl - start);
      if (line.empty()) continue;
      core::ExecEvent ev;
      try {
        from_json(json::parse(line), ev);
      } catch (const std::exception& e) {
        error_event = std::string("invalid event line: ") + e.what();
        return false;
      }
      switch (ev.type) {
        case core::ExecEvent::Type::start: agg.pid = ev.pid; break;
        case core::ExecEvent::Type::stdout_data: agg.stdout_data += ev.data; break;
        case core::ExecEvent::Type::stderr_data: agg.stderr_data += ev.data; break;
        case core::ExecEvent::Type::exit:
          agg.exit_code = ev.exit_code;
          agg.timed_out = ev.timed_out;
          agg.duration_ms = ev.duration_ms;
          agg.done = true;
          saw_end = true;
          break;
        case core::ExecEvent::Type::error:
          error_event = ev.data;
          saw_end = true;
          break;
      }
      if (on_event) on_event(ev);
    }
    pending.erase(0, start);
    return true;
  };

  std::lock_guard<std::mutex> lk(impl_->mu);
  set_timeout(impl_->cli, timeout_s, true);
  const auto started = Clock::now();
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = impl_->cli.send(req, res, err);
  if (!error_event.empty()) throw Error(ErrorCode::unavailable, "POST /execute (stream): " + error_event);
  if (!ok) {
    double waited = std::chrono::duration<double>(Clock::now() - started).count();
    impl_->throw_transport("POST /execute (stream)", err, waited, timeout_s);
  }
  if (res.status != 200) Impl::throw_status("POST /execute", res.status, raw_body.empty() ? res.body : raw_body);
  if (!saw_end) throw Error(ErrorCode::unavailable, "POST /execute (stream): the stream ended before the exit event");
  agg.pid.reset();  // pid is only reported for background starts, as in the buffered form
  return agg;
}

core::SignalResponse SidecarClient::signal(const core::SignalRequest& request) {
  json body = request;
  return impl_->call("POST", "/signal", &body, impl_->opts.read_timeout_seconds).get<core::SignalResponse>();
}

core::SignalResponse SidecarClient::signal(int pid, const std::string& signal_name) {
  return signal(core::SignalRequest{pid, signal_name});
}

core::ResetResponse SidecarClient::reset(const core::ResetRequest& request) {
  json body = request;
  return impl_->call("POST", "/reset", &body, impl_->opts.read_timeout_seconds).get<core::ResetResponse>();
}

std::vector<core::ProcessInfo> SidecarClient::processes() {
  return impl_->call("GET", "/processes", nullptr, impl_->opts.read_timeout_seconds)
      .get<core::ProcessesResponse>()
      .processes;
}

}  // namespace arl::sidecar
