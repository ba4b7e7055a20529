#include "sidecar/http_front.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/log.h"

namespace arl::sidecar {
namespace {

using Clock = std::chrono::steady_clock;

thread_local FrontStream* t_current = nullptr;

// A refused connection is read and discarded this long (and this much) after
// the answer, so closing it does not reset the connection before the client
// has read why (a close with unread data sends RST, which can overtake it).
constexpr auto kLinger = std::chrono::milliseconds(1000);
constexpr size_t kLingerBytes = 4 << 20;
constexpr size_t kReadChunk = 16 * 1024;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

std::string response(int status, const std::string& body, bool close) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
                  "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  r += close ? "Connection: close\r\n\r\n" : "\r\n";
  return r + body;
}

// The front's answers are a few hundred bytes: they fit an empty socket
// buffer, and a peer whose buffer is full is not worth waiting for.
bool send_now(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

int poll_one(int fd, short events, std::chrono::milliseconds timeout, short* revents = nullptr) {
  pollfd p{fd, events, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  if (revents) *revents = p.revents;
  return r;
}

}  // namespace

// --- FrontStream

FrontStream::FrontStream(int fd, std::string buffered, size_t budget, std::chrono::milliseconds io_timeout)
    : fd_(fd), buf_(std::move(buffered)), left_(budget), io_timeout_(io_timeout) {}

FrontStream* FrontStream::current() { return t_current; }

bool FrontStream::is_readable() const { return off_ < buf_.size() || poll_one(fd_, POLLIN, std::chrono::milliseconds(0)) > 0; }

bool FrontStream::is_writable() const {
  short rev = 0;
  return poll_one(fd_, POLLOUT, io_timeout_, &rev) > 0 && !(rev & (POLLERR | POLLHUP));
}

ssize_t FrontStream::read(char* ptr, size_t size) {
  if (off_ == buf_.size()) {
    if (poll_one(fd_, POLLIN, io_timeout_) <= 0) {
      failed_ = true;
      return -1;
    }
    buf_.resize(kReadChunk);
    ssize_t n;
    do {
      n = ::recv(fd_, buf_.data(), buf_.size(), 0);
    } while (n < 0 && errno == EINTR);
    buf_.resize(n > 0 ? static_cast<size_t>(n) : 0);
    off_ = 0;
    if (n <= 0) {
      failed_ = true;
      return n < 0 ? -1 : 0;
    }
  }
  if (left_ == 0) {
    over_budget_ = true;
    return -1;
  }
  size_t n = std::min({size, buf_.size() - off_, left_});
  std::memcpy(ptr, buf_.data() + off_, n);
  off_ += n;
  left_ -= n;
  return static_cast<ssize_t>(n);
}

ssize_t FrontStream::write(const char* ptr, size_t size) {
  for (;;) {
    ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) break;
    if (poll_one(fd_, POLLOUT, io_timeout_) <= 0) break;
  }
  failed_ = true;
  return -1;
}

void FrontStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  httplib::detail::get_remote_ip_and_port(fd_, ip, port);
}
void FrontStream::get_local_ip_and_port(std::string& ip, int& port) const {
  httplib::detail::get_local_ip_and_port(fd_, ip, port);
}

std::string FrontStream::take_unread() {
  std::string rest = buf_.substr(off_);
  buf_.clear();
  off_ = 0;
  return rest;
}

// --- HttpFront

struct HttpFront::Conn {
  std::string buf;
  Clock::time_point since;     // waiting here since (eviction order)
  Clock::time_point deadline;  // idle, head or linger deadline
  bool draining = false;
  size_t drained = 0;
};

HttpFront::HttpFront(FrontOptions options, FrontHandlers handlers)
    : opts_(std::move(options)), handlers_(std::move(handlers)), conns_(std::make_unique<std::map<int, Conn>>()) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0)
    throw Error(ErrorCode::internal, std::string("sidecar: cannot create epoll/eventfd: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

HttpFront::~HttpFront() {
  stop();
  for (auto& [fd, c] : *conns_) ::close(fd);
  for (int fd : {listen_fd_, epoll_fd_, wake_fd_})
    if (fd >= 0) ::close(fd);
}

int HttpFront::bind(const std::string& host, int port, const std::string& listen_flag) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res)
    throw Error(ErrorCode::unavailable, "--listen: cannot resolve " + listen_flag);
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0) ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // The kernel caps the backlog at net.core.somaxconn; httplib asked for 5.
  bool ok = fd >= 0 && ::bind(fd, res->ai_addr, res->ai_addrlen) == 0 && ::listen(fd, 4096) == 0;
  ::freeaddrinfo(res);
  if (!ok) {
    int e = errno;
    if (fd >= 0) ::close(fd);
    throw Error(ErrorCode::unavailable,
                "--listen: cannot bind " + listen_flag + ": " + std::strerror(e) + " (address in use or not local?)");
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  int bound = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                       : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  listen_fd_ = fd;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  return bound;
}

void HttpFront::stop() {
  stop_ = true;
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

bool HttpFront::run() {
  for (int i = 0; i < std::max(1, opts_.workers); ++i) workers_.emplace_back([this] { worker(); });
  const bool ok = loop();
  {
    std::lock_guard<std::mutex> lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
  workers_.clear();
  for (auto& r : returned_) ::close(r.fd);
  returned_.clear();
  for (auto& j : jobs_) ::close(j.fd);
  jobs_.clear();
  return ok;
}

bool HttpFront::loop() {
  epoll_event evs[256];
  auto last_sweep = Clock::now();
  while (!stop_) {
    int n = ::epoll_wait(epoll_fd_, evs, 256, 100);
    if (n < 0 && errno != EINTR) {
      log::error("Failed sidecar accept loop", {{"error", std::strerror(errno)}});
      return false;
    }
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == listen_fd_) {
        accept_all();
      } else if (fd == wake_fd_) {
        uint64_t v;
        (void)!::read(wake_fd_, &v, sizeof v);
        std::vector<Returned> back;
        {
          std::lock_guard<std::mutex> lk(mu_);
          back.swap(returned_);
        }
        for (auto& r : back) watch(r.fd, std::move(r.unread), r.linger);
      } else {
        on_readable(fd);
      }
    }
    auto now = Clock::now();
    if (accept_paused_ && now >= accept_resume_) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = listen_fd_;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
      accept_paused_ = false;
    }
    if (now - last_sweep >= std::chrono::milliseconds(100)) {
      last_sweep = now;
      expire();
    }
  }
  return true;
}

void HttpFront::accept_all() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      // Out of descriptors (EMFILE) or memory: the oldest waiting connection
      // makes room; with none, pause accepting rather than spin on the
      // level-triggered listen socket.
      if ((errno == EMFILE || errno == ENFILE) && evict_oldest()) continue;
      epoll_event ev{};
      ev.events = 0;
      ev.data.fd = listen_fd_;
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, listen_fd_, &ev);
      accept_paused_ = true;
      accept_resume_ = Clock::now() + std::chrono::milliseconds(50);
      return;
    }
    if (conns_->size() >= opts_.max_connections) evict_oldest();
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    watch(fd, {}, false);
  }
}

void HttpFront::watch(int fd, std::string buffered, bool linger) {
  auto now = Clock::now();
  Conn c;
  c.buf = std::move(buffered);
  c.since = now;
  c.deadline = now + (c.buf.empty() ? opts_.idle_timeout : opts_.head_timeout);
  if (linger) {
    ::shutdown(fd, SHUT_WR);
    c.buf.clear();
    c.draining = true;
    c.deadline = now + kLinger;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ::close(fd);
    return;
  }
  (*conns_)[fd] = std::move(c);
  if (!linger && !(*conns_)[fd].buf.empty()) advance(fd);
}

void HttpFront::close_conn(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
  conns_->erase(fd);
}

void HttpFront::on_readable(int fd) {
  auto it = conns_->find(fd);
  if (it == conns_->end()) return;
  Conn& c = it->second;
  // One read per wake-up: the head buffer never grows past the head limit
  // plus one chunk, however fast the peer sends.
  char tmp[kReadChunk];
  ssize_t n;
  do {
    n = ::recv(fd, tmp, sizeof tmp, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) return close_conn(fd);
  if (c.draining) {
    c.drained += static_cast<size_t>(n);
    if (c.drained > kLingerBytes) close_conn(fd);
    return;
  }
  if (c.buf.empty()) c.deadline = Clock::now() + opts_.head_timeout;
  c.buf.append(tmp, static_cast<size_t>(n));
  advance(fd);
}

void HttpFront::advance(int fd) {
  for (;;) {
    auto it = conns_->find(fd);
    if (it == conns_->end()) return;
    Conn& c = it->second;
    size_t end = head_end(c.buf);
    if (end == std::string::npos) {
      if (c.buf.size() > opts_.limits.max_head_bytes)
        refuse(fd, 431, "headers: the request head is larger than " + std::to_string(opts_.limits.max_head_bytes) + " bytes");
      return;
    }
    const std::string_view head = std::string_view(c.buf).substr(0, end);
    HeadVerdict v = opts_.credential
                        ? opts_.credential->with_token([&](std::string_view t) { return check_head(head, t, opts_.limits); })
                        : check_head(head, {}, opts_.limits);
    if (v.status != 0) return refuse(fd, v.status, v.message);
    if (v.health) {
      // Probes are answered here, never queued behind busy workers.
      if (!send_now(fd, response(200, handlers_.health_json(), v.close))) return close_conn(fd);
      c.buf.erase(0, end);
      if (v.close) {
        ::shutdown(fd, SHUT_WR);
        c.draining = true;
        c.deadline = Clock::now() + kLinger;
        return;
      }
      c.since = Clock::now();
      c.deadline = c.since + (c.buf.empty() ? opts_.idle_timeout : opts_.head_timeout);
      continue;
    }
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
    Job job{fd, std::move(c.buf), end};
    conns_->erase(it);
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.push_back(std::move(job));
    }
    cv_.notify_one();
    return;
  }
}

void HttpFront::refuse(int fd, int status, const std::string& message) {
  if (opts_.log_refusals) log::warn("Refused request", {{"status", std::to_string(status)}, {"reason", message}});
  auto it = conns_->find(fd);
  if (it == conns_->end()) return;
  if (!send_now(fd, response(status, handlers_.error_json(status, message), true))) return close_conn(fd);
  ::shutdown(fd, SHUT_WR);
  it->second.buf.clear();
  it->second.buf.shrink_to_fit();
  it->second.draining = true;
  it->second.deadline = Clock::now() + kLinger;
}

void HttpFront::expire() {
  auto now = Clock::now();
  std::vector<std::pair<int, bool>> due;  // fd, mid-head
  for (auto& [fd, c] : *conns_)
    if (now >= c.deadline) due.emplace_back(fd, !c.draining && !c.buf.empty());
  for (auto [fd, mid_head] : due) {
    if (mid_head)
      refuse(fd, 408, "headers: not complete within " + std::to_string(opts_.head_timeout.count() / 1000) + " s");
    else
      close_conn(fd);
  }
}

bool HttpFront::evict_oldest() {
  if (conns_->empty()) return false;
  auto oldest = conns_->begin();
  for (auto it = conns_->begin(); it != conns_->end(); ++it) {
    const Conn &c = it->second, &o = oldest->second;
    // Lingering connections are already finished; then the longest waiting.
    if ((c.draining && !o.draining) || (c.draining == o.draining && c.since < o.since)) oldest = it;
  }
  close_conn(oldest->first);
  return true;
}

void HttpFront::worker() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lk(mu_);
      cv_.wait(lk, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    // Chunk framing is not body: it may add up to an eighth on top.
    const size_t max_body = opts_.limits.max_body_bytes;
    FrontStream s(job.fd, std::move(job.buffered), job.head_len + max_body + max_body / 8 + 64 * 1024, opts_.io_timeout);
    bool keep = false;
    t_current = &s;
    try {
      keep = handlers_.serve(s);
    } catch (...) {
      keep = false;
    }
    t_current = nullptr;
    if (s.failed() && !s.over_budget()) {
      ::close(job.fd);
      continue;
    }
    give_back(job.fd, s.take_unread(), !keep || s.over_budget());
  }
}

void HttpFront::give_back(int fd, std::string unread, bool linger) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    returned_.push_back({fd, std::move(unread), linger});
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

}  // namespace arl::sidecar
