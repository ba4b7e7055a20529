#pragma once
// The sidecar's HTTP server (SPEC.md "Sidecar HTTP API") over an Executor.
#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "sidecar/checkpoint_store.h"
#include "sidecar/executor.h"
#include "sidecar/trajectory_recorder.h"

namespace arl::sidecar {

struct ServerOptions {
  std::string listen = ":8080";  // ":PORT" = all interfaces; "HOST:0" = ephemeral port
  std::string workdir = std::string(kDefaultWorkDir);
  std::string token;             // empty: no auth until bound; moved into the server's Credential
  std::string version;
  size_t max_body_bytes = 64 * 1024 * 1024;
  int worker_threads = 32;       // concurrent requests (long executes hold one each)
  std::chrono::milliseconds head_timeout{10000};  // a request head must arrive within this
  std::chrono::milliseconds idle_timeout{30000};  // a connection without a request is closed
  bool log_requests = true;
  /// Where checkpoints live; "" -> a private temp dir removed at shutdown
  /// (checkpoint_store.h). Never inside the workdir in practice: one there is
  /// left out of snapshots and restores but a /reset removes it.
  std::string checkpoint_dir;
  std::uint64_t checkpoint_max_bytes = kDefaultCheckpointMaxBytes;
  /// Where the trajectory is kept (trajectory.h); "" -> a private unlinked file.
  std::string trajectory_dir;
  std::uint64_t trajectory_max_bytes = kDefaultTrajectoryMaxBytes;
};

/// ":8080" -> {"0.0.0.0", 8080}; "127.0.0.1:0"; "[::1]:9000". Throws Error{invalid} naming --listen.
std::pair<std::string, int> parse_listen_address(const std::string& listen);

class SidecarServer {
 public:
  explicit SidecarServer(ServerOptions options);
  ~SidecarServer();
  SidecarServer(const SidecarServer&) = delete;
  SidecarServer& operator=(const SidecarServer&) = delete;

  /// Binds the listen address; returns the port (useful with port 0).
  int bind();
  /// Serves until stop(); returns false if the server failed.
  bool serve();
  void stop();
  int port() const;
  Executor& executor();
  CheckpointStore& checkpoints();
  Trajectory& trajectory();
  const ServerOptions& options() const;  // token always empty: it lives in the Credential

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `arl sidecar`: serves until SIGTERM/SIGINT, then kills every child and
/// returns. Takes the options by value: the token moves into the server and
/// no copy of it stays behind.
void run_sidecar_until_signal(ServerOptions options);

}  // namespace arl::sidecar
