#include "sidecar/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"

#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#else
struct open_how {
  unsigned long long flags, mode, resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH 0x08
#endif
#ifndef SYS_openat2
#define SYS_openat2 437  // the same number on every architecture
#endif

namespace arl::sidecar {
namespace {

namespace fs = std::filesystem;

// The client's mistakes (a name too long, a file where a directory must be,
// a path into /proc) are 4xx; only what the client cannot fix is a 500.
ErrorCode code_for(int err) {
  switch (err) {
    case EACCES:
    case EPERM:
    case EROFS: return ErrorCode::forbidden;
    case ENAMETOOLONG:
    case ENOTDIR:
    case ELOOP:
    case EISDIR:
    case ENOENT:
    case EEXIST:
    case EINVAL:
    case EXDEV:
    case ENXIO:
    case ENODEV:
    case EOPNOTSUPP:
    case ETXTBSY: return ErrorCode::invalid;
    default: return ErrorCode::internal;
  }
}

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  throw Error(code_for(err), "path: " + what + " " + path + ": " + std::strerror(err));
}

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset(int f) {
    if (fd >= 0) ::close(fd);
    fd = f;
  }
};

void check_path_text(const std::string& p) {
  if (p.empty()) throw Error(ErrorCode::invalid, "path: must not be empty");
  if (p.size() >= PATH_MAX)
    throw Error(ErrorCode::invalid, fmt::format("path: {} bytes long; the limit is {}", p.size(), PATH_MAX - 1));
  if (p.find('\0') != std::string::npos) throw Error(ErrorCode::invalid, "path: contains a NUL character");
  for (const auto& part : fs::path(p))
    if (part.native().size() > NAME_MAX)
      throw Error(ErrorCode::invalid, fmt::format("path: a component is {} bytes long; the limit is {}",
                                                  part.native().size(), NAME_MAX));
}

std::atomic<bool> g_have_openat2{true};

// `prefix` (relative to `root`) as a directory, never resolved outside
// `root`; `parent` is the already opened directory above it, for the
// component walk used where openat2 is missing (ENOSYS) or filtered (EPERM).
int open_dir_beneath(int root, const std::string& prefix, int parent, const std::string& name) {
  if (g_have_openat2) {
    open_how how{};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root, prefix.c_str(), &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
    g_have_openat2 = false;
  }
  return ::openat(parent, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

[[noreturn]] void walk_error(const std::string& shown, int err) {
  if (err == EXDEV || err == ELOOP)
    throw Error(ErrorCode::invalid, "path: \"" + shown + "\" leads outside the workdir through a symbolic link");
  if (err == ENOTDIR) throw Error(ErrorCode::invalid, "path: \"" + shown + "\" has a file where a directory must be");
  io_error("cannot open the directories of", shown, err);
}

std::string temp_name(const std::string& name) {
  static std::atomic<unsigned> counter{0};
  auto t = static_cast<unsigned long long>(std::chrono::steady_clock::now().time_since_epoch().count());
  return fmt::format(".{}.arl-{:x}{:x}", name.substr(0, 200), t & 0xffffff, counter++);
}

// Writes `data` as `name` in the directory `dir` through a temporary file
// and renameat, so readers never see half a file.
core::FileWriteResponse write_into(int dir, const std::string& name, const std::string& shown, const std::string& data,
                                   unsigned mode) {
  struct stat st;
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
    throw Error(ErrorCode::invalid, "path: \"" + shown + "\" is an existing directory");
  std::string tmp;
  int fd = -1;
  for (int i = 0; i < 100 && fd < 0; ++i) {
    tmp = temp_name(name);
    fd = ::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) io_error("cannot create a temporary file next to", shown, errno);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = ::write(fd, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      ::close(fd);
      ::unlinkat(dir, tmp.c_str(), 0);
      io_error("cannot write", shown, e);
    }
    off += static_cast<size_t>(w);
  }
  // fchmod, not the umask: the caller's mode is what they asked for.
  int e = ::fchmod(fd, mode) != 0 ? errno : 0;
  if (::close(fd) != 0 && e == 0) e = errno;
  if (e == 0 && ::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) e = errno;
  if (e != 0) {
    ::unlinkat(dir, tmp.c_str(), 0);
    io_error("cannot write", shown, e);
  }
  return {shown, data.size()};
}

std::string decode(const core::FileWriteRequest& req) {
  return req.encoding == "base64" ? core::base64_decode(req.content, "content") : req.content;
}

}  // namespace

void use_openat2(bool enabled) { g_have_openat2 = enabled; }

core::FileWriteResponse write_file(const std::string& workdir, const core::FileWriteRequest& req) {
  const std::string& p = req.path;
  check_path_text(p);
  if (p[0] == '/') return write_file_atomically(p, req);
  fs::path norm = fs::path(p).lexically_normal();
  auto first = norm.begin();
  if (norm.empty() || (first != norm.end() && *first == "..") || norm == ".")
    throw Error(ErrorCode::invalid, "path: \"" + p + "\" escapes the workdir; use a path under it or an absolute path");
  if (!norm.has_filename()) throw Error(ErrorCode::invalid, "path: \"" + p + "\" names a directory, not a file");
  const std::string data = decode(req);
  const std::string shown = (fs::path(workdir) / norm).string();

  Fd root(::open(workdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (root.fd < 0) io_error("cannot open the workdir for", shown, errno);
  Fd dir(::fcntl(root.fd, F_DUPFD_CLOEXEC, 0));
  std::string prefix;
  for (const auto& part : norm.parent_path()) {
    const std::string name = part.string();
    prefix = prefix.empty() ? name : prefix + "/" + name;
    int fd = open_dir_beneath(root.fd, prefix, dir.fd, name);
    if (fd < 0 && errno == ENOENT) {
      if (::mkdirat(dir.fd, name.c_str(), 0755) != 0 && errno != EEXIST)
        io_error("cannot create the parent directories of", shown, errno);
      fd = open_dir_beneath(root.fd, prefix, dir.fd, name);
    }
    if (fd < 0) {
      int e = errno;
      struct stat st;
      if (!g_have_openat2 && ::fstatat(dir.fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
        throw Error(ErrorCode::invalid, "path: \"" + p + "\" goes through a symbolic link, which is not followed " +
                                            "on this kernel (no openat2); use the link's target or an absolute path");
      walk_error(p, e);
    }
    dir.reset(fd);
  }
  return write_into(dir.fd, norm.filename().string(), shown, data, req.mode.value_or(0644));
}

core::FileWriteResponse write_file_atomically(const std::string& path, const core::FileWriteRequest& req) {
  check_path_text(path);
  const fs::path p(path);
  if (!p.has_filename()) throw Error(ErrorCode::invalid, "path: \"" + path + "\" names a directory, not a file");
  const std::string data = decode(req);
  std::error_code ec;
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  if (ec) io_error("cannot create the parent directories of", path, ec.value());
  Fd dir(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) io_error("cannot open the directory of", path, errno);
  return write_into(dir.fd, p.filename().string(), path, data, req.mode.value_or(0644));
}

}  // namespace arl::sidecar
