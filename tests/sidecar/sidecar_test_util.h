#pragma once
// Shared fixtures of the sidecar tests: a temporary workdir and a real
// sidecar server on 127.0.0.1 with an ephemeral port.
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "core/sidecar_protocol.h"
#include "sidecar/server.h"

namespace arl::sidecar::testing {

// The tokens of the bind tests: the pool's, and the one a bind gives the sandbox.
inline const std::string kPoolToken = "pool-token-0123456789abcdef";
inline const std::string kSandboxToken = "sandbox-token-0123456789abcdef";

/// An /execute request running `script` under sh -c.
inline core::ExecuteRequest sh(const std::string& script, double timeout = 10) {
  core::ExecuteRequest r;
  r.command = {"sh", "-c", script};
  r.timeout_seconds = timeout;
  return r;
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "arl-sidecar-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

inline std::string read_file(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// For files a background command writes: it may not have run yet when the
// request that started it returns. The writer should rename into place so
// that "present" means "complete".
inline std::string read_file_once_present(const std::string& p,
                                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!std::filesystem::exists(p) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return read_file(p);
}

inline bool process_alive(int pid) { return kill(pid, 0) == 0; }

/// Waits up to `ms` for pid to be gone (or a zombie: /proc state Z).
inline bool wait_gone(int pid, int ms) {
  for (int i = 0; i < ms; ++i) {
    if (kill(pid, 0) != 0) return true;
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(f, line);
    auto rp = line.rfind(')');
    if (rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] == 'Z') return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

struct RunningServer {
  TempDir dir;
  std::unique_ptr<SidecarServer> server;
  std::thread thread;
  int port = 0;

  explicit RunningServer(const std::string& token = "", size_t max_body = 1 << 20,
                         const std::function<void(ServerOptions&)>& adjust = {}) {
    signal(SIGPIPE, SIG_IGN);
    ServerOptions o;
    o.listen = "127.0.0.1:0";
    o.workdir = dir.path;
    o.token = token;
    o.version = "test";
    o.max_body_bytes = max_body;
    o.log_requests = false;
    if (adjust) adjust(o);
    server = std::make_unique<SidecarServer>(o);
    port = server->bind();
    thread = std::thread([this] { server->serve(); });
  }
  ~RunningServer() {
    server->stop();
    thread.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

}  // namespace arl::sidecar::testing
