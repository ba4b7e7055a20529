#include "sidecar/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/base64.h"
#include "core/error.h"

namespace arl::sidecar {
namespace {

[[noreturn]] void io_error(const std::string& what, const std::string& path, int err) {
  auto code = (err == EACCES || err == EPERM || err == EROFS) ? ErrorCode::forbidden : ErrorCode::internal;
  throw Error(code, "path: " + what + " " + path + ": " + std::strerror(err));
}

}  // namespace

core::FileWriteResponse write_file_atomically(const std::string& path, const core::FileWriteRequest& req) {
  const std::string data = req.encoding == "base64" ? core::base64_decode(req.content, "content") : req.content;
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (!p.has_filename()) throw Error(ErrorCode::invalid, "path: \"" + path + "\" names a directory, not a file");
  std::error_code ec;
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) io_error("cannot create the parent directories of", path, ec.value());
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    throw Error(ErrorCode::invalid, "path: \"" + path + "\" is an existing directory");

  std::string tmp = (p.parent_path() / ("." + p.filename().string() + ".arl-XXXXXX")).string();
  int fd = mkostemp(tmp.data(), O_CLOEXEC);
  if (fd < 0) io_error("cannot create a temporary file next to", path, errno);
  const unsigned mode = req.mode.value_or(0644);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t w = write(fd, data.data() + off, data.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      io_error("cannot write", path, e);
    }
    off += static_cast<size_t>(w);
  }
  // fchmod, not the umask: the caller's mode is what they asked for.
  int e = fchmod(fd, mode) != 0 ? errno : 0;
  if (close(fd) != 0 && e == 0) e = errno;
  if (e != 0) {
    unlink(tmp.c_str());
    io_error("cannot finish", path, e);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    io_error("cannot rename into place", path, e);
  }
  return {path, data.size()};
}

}  // namespace arl::sidecar
