#include "sidecar/server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.h"
#include "core/log.h"
#include "sidecar/files.h"
#include "sidecar/http_errors.h"
#include "sidecar/spawn.h"

namespace arl::sidecar {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void reply_json(httplib::Response& res, const json& j) { res.set_content(dump(j), "application/json"); }

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

// Relative paths must stay under the workdir; absolute ones are the caller's choice.
std::string file_path_for(const Executor& ex, const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  namespace fs = std::filesystem;
  fs::path norm = fs::path(p).lexically_normal();
  auto first = norm.begin();
  if (norm.empty() || (first != norm.end() && *first == "..") || norm == ".")
    throw Error(ErrorCode::invalid, "path: \"" + p + "\" escapes the workdir; use a path under it or an absolute path");
  return ex.resolve_path(norm.string());
}

std::string yes_no(bool b) { return b ? "true" : "false"; }

// Only what failed, timed out or keeps running: a successful command is the
// steady state.
void log_execute(const core::ExecuteRequest& req, const core::ExecuteResponse& r) {
  if (r.pid) {
    log::info("Started background process", {{"command", req.command[0]}, {"pid", std::to_string(*r.pid)}});
  } else if (r.exit_code != 0 || r.timed_out) {
    log::info("Finished command", {{"command", req.command[0]}, {"exit_code", std::to_string(r.exit_code)},
                                   {"timed_out", yes_no(r.timed_out)}, {"duration_ms", fmt::format("{:.1f}", r.duration_ms)}});
  }
}

void log_stopped(int signal, int killed_groups) {
  log::info("Stopped sidecar", {{"signal", std::to_string(signal)}, {"killed_groups", std::to_string(killed_groups)}});
}

}  // namespace

std::pair<std::string, int> parse_listen_address(const std::string& listen) {
  auto bad = [&](const std::string& why) -> std::pair<std::string, int> {
    throw Error(ErrorCode::invalid, "--listen: \"" + listen + "\" " + why + " (expected HOST:PORT or :PORT)");
  };
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return bad("has no port");
  std::string host = listen.substr(0, colon);
  std::string port_s = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (port_s.empty() || port_s.size() > 5 || port_s.find_first_not_of("0123456789") != std::string::npos)
    return bad("has an invalid port");
  int port = std::stoi(port_s);
  if (port > 65535) return bad("has a port above 65535");
  return {host, port};
}

struct SidecarServer::Impl {
  ServerOptions opts;
  Executor executor;
  httplib::Server svr;
  int port = -1;

  explicit Impl(ServerOptions o)
      : opts(std::move(o)), executor(ExecutorOptions{opts.workdir}) {}

  void stream_execute(httplib::Response& res, core::ExecuteRequest request) {
    auto req = std::make_shared<core::ExecuteRequest>(std::move(request));
    res.set_chunked_content_provider(core::kNdjsonContentType, [this, req](size_t, httplib::DataSink& sink) {
      auto emit = [&](const core::ExecEvent& ev) {
        std::string line = dump(json(ev));
        line += '\n';
        return sink.write(line.data(), line.size());
      };
      OutputHandler h;
      h.on_start = [&](int pid) {
        core::ExecEvent ev;
        ev.type = core::ExecEvent::Type::start;
        ev.pid = pid;
        emit(ev);
      };
      h.on_output = [&](bool is_stderr, std::string_view data) {
        core::ExecEvent ev;
        ev.type = is_stderr ? core::ExecEvent::Type::stderr_data : core::ExecEvent::Type::stdout_data;
        ev.data = std::string(data);
        return emit(ev);
      };
      core::ExecEvent last;
      try {
        auto r = executor.execute(*req, &h);
        last.type = core::ExecEvent::Type::exit;
        last.exit_code = r.exit_code;
        last.timed_out = r.timed_out;
        last.duration_ms = r.duration_ms;
      } catch (const std::exception& e) {
        last.type = core::ExecEvent::Type::error;
        last.data = e.what();
      } catch (...) {
        // The 200 is out and httplib would end the process on an exception
        // thrown from here: the stream's own error event is the only answer.
        last.type = core::ExecEvent::Type::error;
        last.data = "internal error: unknown exception";
      }
      emit(last);
      sink.done();
      return true;
    });
  }

  void routes() {
    svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      reply_json(res, json(core::HealthResponse{"ok", opts.version}));
    });
    svr.Post("/files", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return;
      auto fr = core::parse_body<core::FileWriteRequest>(req.body);
      reply_json(res, json(write_file_atomically(file_path_for(executor, fr.path), fr)));
    });
    svr.Post("/execute", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return;
      auto er = core::parse_body<core::ExecuteRequest>(req.body);
      if (req.get_header_value("Accept").find(core::kNdjsonContentType) != std::string::npos) er.stream = true;
      if (er.stream && !er.background) {
        // Checked before the 200 goes out: afterwards errors can only be events.
        std::string cwd = executor.resolve_path(er.working_dir);
        struct stat st;
        if (stat(cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          throw Error(ErrorCode::invalid, "working_dir: \"" + cwd + "\" is not an existing directory");
        stream_execute(res, std::move(er));
        return;
      }
      auto r = executor.execute(er);
      if (opts.log_requests) log_execute(er, r);
      reply_json(res, json(r));
    });
    svr.Post("/signal", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return;
      auto sr = core::parse_body<core::SignalRequest>(req.body);
      auto r = executor.signal(sr.pid, core::parse_signal_name(sr.signal));
      if (opts.log_requests)
        log::info("Signalled process", {{"pid", std::to_string(sr.pid)}, {"signal", sr.signal}, {"success", yes_no(r.success)}});
      reply_json(res, json(r));
    });
    svr.Post("/reset", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return;
      auto rr = core::parse_body<core::ResetRequest>(req.body);
      auto r = executor.reset(rr.preserve_files);
      if (opts.log_requests)
        log::info("Reset workspace", {{"preserve_files", yes_no(rr.preserve_files)}, {"message", r.message}});
      reply_json(res, json(r));
    });
    svr.Get("/processes", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorize(req, res)) return;
      reply_json(res, json(core::ProcessesResponse{executor.processes()}));
    });
  }

  // Checked inside each handler, after httplib has read the request body: a
  // pre-routing rejection would leave the body unread on a keep-alive
  // connection and corrupt the next request on it (the API server's pod
  // proxy reuses connections across callers).
  bool authorize(const httplib::Request& req, httplib::Response& res) const {
    if (opts.token.empty()) return true;
    std::string given = req.get_header_value(std::string(kTokenHeader));
    if (given.empty()) {
      std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) == 0) given = auth.substr(7);
    }
    if (!given.empty() && constant_time_equal(given, opts.token)) return true;
    reply_error(res, 401, ErrorCode::unauthorized,
                given.empty() ? "token: missing; send Authorization: Bearer <token> or X-Arl-Token" : "token: wrong token");
    return false;
  }

  void configure() {
    const int threads = opts.worker_threads > 0 ? opts.worker_threads : 8;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    svr.set_tcp_nodelay(true);
    svr.set_keep_alive_max_count(1u << 30);
    svr.set_keep_alive_timeout(30);
    svr.set_payload_max_length(opts.max_body_bytes);
    install_error_replies(svr);
    if (opts.log_requests) {
      svr.set_logger([](const httplib::Request& req, const httplib::Response& res) {
        if (res.status >= 400)
          log::warn("Refused request", {{"method", req.method}, {"path", req.path}, {"status", std::to_string(res.status)}});
      });
    }
    routes();
  }
};

SidecarServer::SidecarServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->configure();
}

SidecarServer::~SidecarServer() { stop(); }

int SidecarServer::bind() {
  auto [host, port] = parse_listen_address(impl_->opts.listen);
  if (port == 0) {
    impl_->port = impl_->svr.bind_to_any_port(host);
    if (impl_->port <= 0) throw Error(ErrorCode::unavailable, "--listen: cannot bind " + impl_->opts.listen);
  } else {
    if (!impl_->svr.bind_to_port(host, port))
      throw Error(ErrorCode::unavailable, "--listen: cannot bind " + impl_->opts.listen + " (address in use or not local?)");
    impl_->port = port;
  }
  return impl_->port;
}

bool SidecarServer::serve() { return impl_->svr.listen_after_bind(); }
void SidecarServer::stop() {
  if (impl_) impl_->svr.stop();
}
int SidecarServer::port() const { return impl_->port; }
Executor& SidecarServer::executor() { return impl_->executor; }

void run_sidecar_until_signal(const ServerOptions& options) {
  ensure_std_fds_open();
  // Blocked before any thread exists, so every thread inherits the mask and
  // only the sigwait thread below ever sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SidecarServer server(options);
  int port = server.bind();
  log::info("Started sidecar", {{"listen", options.listen}, {"port", std::to_string(port)}, {"workdir", options.workdir},
                                {"auth", yes_no(!options.token.empty())}, {"version", options.version}});
  std::atomic<int> got{0};
  std::atomic<bool> served{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    got = sig;
    if (served) return;  // woken by the main thread below
    server.stop();
    int killed = server.executor().kill_all();
    // Idle keep-alive connections can hold the worker pool for their whole
    // timeout; the children are gone, so do not make Kubernetes wait.
    for (int i = 0; i < 200 && !served; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!served) {
      log_stopped(sig, killed);
      std::_Exit(0);
    }
  });
  bool ok = server.serve();
  served = true;
  const bool by_signal = got != 0;
  if (!by_signal) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  int killed = server.executor().kill_all();
  log_stopped(got.load(), killed);
  if (!ok && !by_signal) throw Error(ErrorCode::unavailable, "sidecar server stopped unexpectedly");
}

}  // namespace arl::sidecar
