#pragma once
// The sidecar's own accept loop in front of httplib.
//
// Why not httplib's: cpp-httplib (Debian's 0.11.4, and newer releases too)
// gives every connection a worker thread from accept to close and reads the
// whole head and body before a handler can look at the token. One byte every
// few seconds per connection, or idle keep-alive connections, hold all the
// workers; a chunked body has no size limit; the listen backlog is 5. So one
// epoll thread here accepts, reads each request head with a deadline and
// limits, checks it (http_head.h: size, count, declared body size, token),
// answers /health itself, and only then lends the connection to a worker,
// which runs httplib's request processing on it (FrontStream). Between
// requests the connection comes back here, so an idle connection holds no
// worker and the next (pipelined) request gets the same checks.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sidecar/credential.h"
#include "sidecar/http_head.h"

namespace arl::sidecar {

struct FrontOptions {
  HeadLimits limits;
  std::shared_ptr<const Credential> credential;     // null or empty token: no auth
  std::chrono::milliseconds head_timeout{10000};    // first byte of a head -> its blank line
  std::chrono::milliseconds idle_timeout{30000};    // a connection with no request in progress
  std::chrono::milliseconds io_timeout{10000};      // each body read or response write
  size_t max_connections = 4096;                    // then the oldest waiting connection is closed
  int workers = 32;
  bool log_refusals = true;
};

/// httplib's view of one lent connection: the bytes the front already read,
/// then the socket. Reads past the request's body budget fail (chunked bodies
/// have no length to check up front).
class FrontStream : public httplib::Stream {
 public:
  FrontStream(int fd, std::string buffered, size_t budget, std::chrono::milliseconds io_timeout);
  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  int socket() const override { return fd_; }

  bool over_budget() const { return over_budget_; }
  bool failed() const { return failed_; }
  /// Bytes read from the socket but not consumed: the next pipelined request.
  std::string take_unread();

  /// The stream the calling worker thread is serving (nullptr elsewhere).
  static FrontStream* current();

 private:
  int fd_;
  std::string buf_;
  size_t off_ = 0;
  size_t left_;  // body budget left
  std::chrono::milliseconds io_timeout_;
  bool over_budget_ = false;
  bool failed_ = false;
};

struct FrontHandlers {
  std::function<std::string()> health_json;
  std::function<std::string(int status, const std::string& message)> error_json;
  /// Serves one request; returns whether the connection may carry another.
  std::function<bool(FrontStream&)> serve;
};

class HttpFront {
 public:
  HttpFront(FrontOptions options, FrontHandlers handlers);
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  /// Binds and listens; returns the port. Throws Error{unavailable} naming --listen.
  int bind(const std::string& host, int port, const std::string& listen_flag);
  /// Runs the accept loop until stop(), then waits for the workers; false
  /// when the loop itself failed.
  bool run();
  void stop();

 private:
  struct Conn;
  struct Job {
    int fd;
    std::string buffered;
    size_t head_len;
  };
  bool loop();
  void accept_all();
  void on_readable(int fd);
  void advance(int fd);  // decides on whatever the connection has buffered
  void close_conn(int fd);
  void refuse(int fd, int status, const std::string& message);
  void expire();
  bool evict_oldest();
  void worker();
  void give_back(int fd, std::string unread, bool linger);
  void watch(int fd, std::string buffered, bool linger);

  FrontOptions opts_;
  FrontHandlers handlers_;
  int listen_fd_ = -1;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool accept_paused_ = false;
  std::chrono::steady_clock::time_point accept_resume_{};
  std::unique_ptr<std::map<int, Conn>> conns_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  struct Returned {
    int fd;
    std::string unread;
    bool linger;
  };
  std::vector<Returned> returned_;
  bool stopping_ = false;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
};

}  // namespace arl::sidecar
