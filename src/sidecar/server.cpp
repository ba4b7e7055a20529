#include "sidecar/server.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "core/error.h"
#include "core/log.h"
#include "core/bind_settings.h"
#include "sidecar/checkpoint_routes.h"
#include "sidecar/credential.h"
#include "sidecar/file_clone.h"
#include "sidecar/files.h"
#include "sidecar/http_errors.h"
#include "sidecar/http_front.h"
#include "sidecar/http_json.h"
#include "sidecar/spawn.h"
#include "sidecar/trajectory_http.h"

namespace arl::sidecar {
namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void reply_json(httplib::Response& res, const json& j) { res.set_content(dump(j), "application/json"); }

// httplib's request processing, one request at a time on a connection the
// front (http_front.h) has already checked and lends for that request.
class OneRequestServer : public httplib::Server {
 public:
  // httplib stops writing a streamed response once its own listening socket
  // is gone (it takes that for shutdown); here it never had one, the front
  // listens. The value is only ever compared with INVALID_SOCKET.
  OneRequestServer() { svr_sock_ = 0; }

  bool serve_one(httplib::Stream& strm, bool& connection_closed) {
    return process_request(strm, false, connection_closed, nullptr);
  }
};

// Stops a streamed command whose client went away while it prints nothing:
// otherwise it would run, unseen, until its timeout. Half-closing the
// request side counts as going away too (no ARL client does it).
class DisconnectWatch {
 public:
  DisconnectWatch(int sock, int pid) : stop_fd_(eventfd(0, EFD_CLOEXEC)) {
    if (sock < 0 || stop_fd_ < 0) return;
    thread_ = std::thread([this, sock, pid] {
      pollfd p[2] = {{sock, POLLRDHUP, 0}, {stop_fd_, POLLIN, 0}};
      for (;;) {
        int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || p[1].revents) return;
        if (p[0].revents & (POLLRDHUP | POLLHUP | POLLERR)) {
          kill(-pid, SIGKILL);
          return;
        }
      }
    });
  }
  ~DisconnectWatch() {
    uint64_t one = 1;
    if (stop_fd_ >= 0) (void)!write(stop_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    if (stop_fd_ >= 0) close(stop_fd_);
  }

 private:
  int stop_fd_;
  std::thread thread_;
};

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
  std::shared_ptr<Credential> credential;
  Executor executor;
  CheckpointStore checkpoints;
  TrajectoryRecorder recorder;
  OneRequestServer svr;
  HttpFront front;
  int port = -1;

  explicit Impl(ServerOptions o)
      : opts(std::move(o)),
        credential(std::make_shared<Credential>(std::exchange(opts.token, {}))),
        executor(ExecutorOptions{opts.workdir}),
        checkpoints(CheckpointStoreOptions{opts.workdir, opts.checkpoint_dir, opts.checkpoint_max_bytes}),
        recorder(TrajectoryOptions{opts.trajectory_dir, opts.trajectory_max_bytes}),
        front(front_options(opts, credential), front_handlers()) {}

  static FrontOptions front_options(const ServerOptions& o, std::shared_ptr<Credential> credential) {
    FrontOptions f;
    f.limits.max_body_bytes = o.max_body_bytes;
    f.credential = std::move(credential);
    f.workers = o.worker_threads > 0 ? o.worker_threads : 8;
    f.head_timeout = o.head_timeout;
    f.idle_timeout = o.idle_timeout;
    f.log_refusals = o.log_requests;
    // Every waiting connection is a descriptor: stay below the soft limit
    // (the oldest waiting connection is closed for a new one), with room for
    // the pipes and files of the commands being run.
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
      f.max_connections = std::min<size_t>(f.max_connections, rl.rlim_cur > 256 ? rl.rlim_cur - 128 : rl.rlim_cur / 2);
    return f;
  }

  FrontHandlers front_handlers() {
    FrontHandlers h;
    h.health_json = [this] { return dump(json(core::HealthResponse{"ok", opts.version})); };
    h.error_json = [](int status, const std::string& message) {
      httplib::Response res;
      reply_error(res, status, status == 401 ? ErrorCode::unauthorized : ErrorCode::invalid, message);
      return res.body;
    };
    h.serve = [this](FrontStream& strm) {
      bool closed = false;
      return svr.serve_one(strm, closed) && !closed;
    };
    return h;
  }

  void stream_execute(httplib::Response& res, core::ExecuteRequest request) {
    auto req = std::make_shared<core::ExecuteRequest>(std::move(request));
    const FrontStream* strm = FrontStream::current();
    const int sock = strm ? strm->socket() : -1;
    res.set_chunked_content_provider(core::kNdjsonContentType, [this, req, sock](size_t, httplib::DataSink& sink) {
      TrajectoryRecorder::Stream recording(recorder, *req);
      auto emit = [&](const core::ExecEvent& ev) {
        std::string line = dump(json(ev));
        line += '\n';
        return sink.write(line.data(), line.size());
      };
      std::unique_ptr<DisconnectWatch> watch;
      OutputHandler h;
      h.on_start = [&](int pid) {
        watch = std::make_unique<DisconnectWatch>(sock, pid);
        core::ExecEvent ev;
        ev.type = core::ExecEvent::Type::start;
        ev.pid = pid;
        emit(ev);
      };
      h.on_output = [&](bool is_stderr, std::string_view data) {
        recording.output(is_stderr, data);
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
        last.usage = r.usage;
      } catch (const std::exception& e) {
        last.type = core::ExecEvent::Type::error;
        last.data = e.what();
      } catch (...) {
        // The 200 is out and httplib would end the process on an exception
        // thrown from here: the stream's own error event is the only answer.
        last.type = core::ExecEvent::Type::error;
        last.data = "internal error: unknown exception";
      }
      // Before the exit event: the group is reaped, and its id must not be
      // killed once it can belong to someone else.
      watch.reset();
      recording.finish(last);
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
      auto fr = parse_request<core::FileWriteRequest>(req.body);
      // Recorded as sent: a replay into a sandbox of the same working dir resolves it alike.
      reply_json(res, json(recorder.file_write(fr, [&] {
        core::FileWriteRequest resolved = fr;
        resolved.path = executor.file_path(fr.path);
        return write_file(executor.options().workdir, resolved);
      })));
    });
    svr.Post("/execute", [this](const httplib::Request& req, httplib::Response& res) {
      auto er = parse_request<core::ExecuteRequest>(req.body);
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
      auto r = recorder.execute(er, [&] { return executor.execute(er); });
      if (opts.log_requests) log_execute(er, r);
      reply_json(res, json(r));
    });
    svr.Post("/signal", [this](const httplib::Request& req, httplib::Response& res) {
      auto sr = parse_request<core::SignalRequest>(req.body);
      auto r = recorder.signal(sr.pid, sr.signal, [&] { return executor.signal(sr.pid, core::parse_signal_name(sr.signal)); });
      if (opts.log_requests)
        log::info("Signalled process", {{"pid", std::to_string(sr.pid)}, {"signal", sr.signal}, {"success", yes_no(r.success)}});
      reply_json(res, json(r));
    });
    svr.Post("/reset", [this](const httplib::Request& req, httplib::Response& res) {
      auto rr = parse_request<core::ResetRequest>(req.body);
      auto r = recorder.reset(rr.preserve_files, [&] { return executor.reset(rr.preserve_files); });
      if (opts.log_requests)
        log::info("Reset workspace", {{"preserve_files", yes_no(rr.preserve_files)}, {"message", r.message}});
      reply_json(res, json(r));
    });
    svr.Get("/processes", [this](const httplib::Request&, httplib::Response& res) {
      reply_json(res, json(core::ProcessesResponse{executor.processes()}));
    });
    checkpoint_routes();
    svr.Get("/trajectory", [this](const httplib::Request& req, httplib::Response& res) {
      serve_trajectory(recorder.trajectory(), req, res);
    });
    svr.Post("/bind", [this](const httplib::Request& req, httplib::Response& res) {
      json body = parse_request_json(req.body);
      core::BindRequest br = body.get<core::BindRequest>();
      core::BindSettings settings = core::bind_settings_from_json(body);  // checked before the token changes
      body = json();
      auto r = credential->bind(br);
      wipe(br.token);
      // Also on `already`: an operator that restarted sends the same settings.
      recorder.set_secrets(settings.env);
      executor.set_sandbox_config(std::move(settings.env), settings.working_dir);
      if (opts.log_requests && !r.already) log::info("Bound sidecar to its sandbox's token", {});
      reply_json(res, json(r));
    });
  }

  // Storage errors are the one status outside http_status_for: 507 tells a
  // client "delete checkpoints", which no ErrorCode says.
  void checkpoint_routes() {
    svr.Post("/checkpoints", [this](const httplib::Request& req, httplib::Response& res) {
      auto cr = parse_request<core::CheckpointRequest>(req.body);
      try {
        auto info = recorder.checkpoint(cr.name, [&] { return checkpoints.create(cr.name); });
        if (opts.log_requests)
          log::info("Created checkpoint", {{"id", info.id}, {"files", std::to_string(info.files)},
                                           {"bytes", std::to_string(info.bytes)}, {"duration_ms", fmt::format("{:.1f}", info.duration_ms)}});
        reply_json(res, json(info));
      } catch (const StorageFull& e) {
        reply_error(res, 507, e.code(), e.what());
      }
    });
    svr.Get("/checkpoints", [this](const httplib::Request&, httplib::Response& res) {
      reply_json(res, json(checkpoints.list()));
    });
    svr.Delete(R"(/checkpoints/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      auto r = checkpoints.remove(req.matches[1].str());
      if (opts.log_requests) log::info("Deleted checkpoint", {{"id", r.id}});
      reply_json(res, json(r));
    });
    svr.Post(R"(/checkpoints/([^/]+)/restore)", [this](const httplib::Request& req, httplib::Response& res) {
      auto rr = parse_request<core::RestoreRequest>(req.body);
      const auto t0 = std::chrono::steady_clock::now();
      const std::string ref = req.matches[1].str();
      auto r = recorder.restore(ref, rr.kill_processes, [&] {
        checkpoints.get(ref);  // an unknown id is a 404 before any process is killed
        int killed = rr.kill_processes ? executor.reset(true).killed : 0;
        auto r = checkpoints.restore(ref);
        r.killed = killed;
        r.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        return r;
      });
      if (opts.log_requests)
        log::info("Restored checkpoint", {{"id", r.id}, {"written", std::to_string(r.written)}, {"removed", std::to_string(r.removed)},
                                          {"killed", std::to_string(r.killed)}, {"duration_ms", fmt::format("{:.1f}", r.duration_ms)}});
      reply_json(res, json(r));
    });
    add_checkpoint_archive_routes(svr, checkpoints, opts.log_requests);
  }

  // The token is checked by the front on the raw header, before the body is
  // read (http_head.h): no handler sees an unauthenticated request.
  void configure() {
    svr.set_keep_alive_max_count(1u << 30);
    svr.set_keep_alive_timeout(static_cast<time_t>(opts.idle_timeout.count() / 1000));
    svr.set_payload_max_length(opts.max_body_bytes);
    install_error_replies(svr, opts.max_body_bytes);
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
  impl_->port = impl_->front.bind(host, port, impl_->opts.listen);
  return impl_->port;
}

bool SidecarServer::serve() { return impl_->front.run(); }
void SidecarServer::stop() {
  if (impl_) impl_->front.stop();
}
int SidecarServer::port() const { return impl_->port; }
Executor& SidecarServer::executor() { return impl_->executor; }
CheckpointStore& SidecarServer::checkpoints() { return impl_->checkpoints; }
Trajectory& SidecarServer::trajectory() { return impl_->recorder.trajectory(); }
const ServerOptions& SidecarServer::options() const { return impl_->opts; }

void run_sidecar_until_signal(ServerOptions options) {
  ensure_std_fds_open();
  harden_process();
  // Blocked before any thread exists, so every thread inherits the mask and
  // only the sigwait thread below ever sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  const bool auth = !options.token.empty();
  SidecarServer server(std::move(options));
  const ServerOptions& opts = server.options();
  int port = server.bind();
  log::info("Started sidecar", {{"listen", opts.listen}, {"port", std::to_string(port)}, {"workdir", opts.workdir},
                                {"auth", yes_no(auth)}, {"version", opts.version}});
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
      server.checkpoints().discard();  // _Exit skips the destructors that do it
      server.trajectory().discard();
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
