#pragma once
// Descriptor-relative directory helpers shared by snapshot and restore
// (workdir_snapshot.h): every step below the workdir goes through an open
// directory with O_NOFOLLOW, so a symlink planted mid-walk is never followed.
#include <sys/stat.h>

#include <string>
#include <string_view>
#include <vector>

namespace arl::sidecar {

/// An owned descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

/// Opens directory `name` in `parent` without following a symlink; -1 and
/// errno on failure.
int open_dir_at(int parent, const char* name);

/// The names in an open directory ("." and ".." left out), with d_type.
struct DirEntry {
  std::string name;
  unsigned char type;  // DT_*; DT_UNKNOWN on filesystems that do not say
};
/// Throws Error{internal} naming `where` when the directory cannot be read.
std::vector<DirEntry> list_dir(int dir_fd, const std::string& where);

/// A non-root sidecar cannot add to, remove from or list a directory
/// without its owner write/search bits (root ignores them): grants them and
/// returns true when it had to, so the caller can put the mode back.
bool make_owner_accessible(int dir_fd, mode_t mode);

/// "a/b" + "c" -> "a/b/c"; "" + "c" -> "c".
std::string join_rel(const std::string& parent, const std::string& name);
/// Of a relative path: "a/b/c" -> "a/b", "c" -> "".
std::string_view parent_rel(std::string_view path);
/// Of a relative path: "a/b/c" -> "c", "c" -> "c".
std::string_view base_rel(std::string_view path);

}  // namespace arl::sidecar
