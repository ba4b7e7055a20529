#include "sidecar/dir_fd.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace arl::sidecar {

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

int open_dir_at(int parent, const char* name) {
  return ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

std::vector<DirEntry> list_dir(int dir_fd, const std::string& where) {
  // fdopendir takes the descriptor over; the caller keeps its own.
  int dup_fd = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = dup_fd >= 0 ? ::fdopendir(dup_fd) : nullptr;
  if (!d) {
    int e = errno;
    if (dup_fd >= 0) ::close(dup_fd);
    throw Error(ErrorCode::internal, "cannot list " + where + ": " + std::strerror(e));
  }
  // The copy shares its offset with dir_fd: start from the top every time.
  ::rewinddir(d);
  std::vector<DirEntry> out;
  errno = 0;
  while (dirent* ent = ::readdir(d)) {
    const char* n = ent->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    out.push_back({n, ent->d_type});
  }
  int e = errno;
  ::closedir(d);
  if (e) throw Error(ErrorCode::internal, "cannot list " + where + ": " + std::strerror(e));
  return out;
}

bool make_owner_accessible(int dir_fd, mode_t mode) {
  if (::geteuid() == 0 || (mode & S_IRWXU) == S_IRWXU) return false;
  return ::fchmod(dir_fd, (mode & 07777) | S_IRWXU) == 0;
}

std::string join_rel(const std::string& parent, const std::string& name) {
  return parent.empty() ? name : parent + "/" + name;
}

std::string_view parent_rel(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
}

std::string_view base_rel(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace arl::sidecar
