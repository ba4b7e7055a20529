#include "sidecar/workdir_extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

#include "core/error.h"
#include "sidecar/checkpoint_archive.h"
#include "sidecar/file_clone.h"

namespace arl::sidecar {
namespace {

std::size_t depth(const std::string& path) {
  return path.empty() ? 0 : 1 + static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

}  // namespace

WorkdirExtract::WorkdirExtract(const std::string& workdir, const ExcludedDir& exclude)
    : workdir_(workdir), exclude_(exclude), root_(::open(workdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {
  struct stat root_st;
  if (!root_ || ::fstat(root_.get(), &root_st) != 0) fail("open the workdir", "", errno);
  make_owner_accessible(root_.get(), root_st.st_mode);
  if (auto held = first_non_directory(root_.get(), "")) {
    throw Error(ErrorCode::conflict, "keep: false imports into an empty workdir only, and " + workdir + " holds \"" +
                                         *held + "\"; import with keep: true (the default) to restore over it");
  }
}

// Directories alone do not count: the bind makes the sandbox's workingDir
// before a fork's import, and an existing directory is only entered.
std::optional<std::string> WorkdirExtract::first_non_directory(int dir_fd, const std::string& rel) {
  for (const auto& d : list_dir(dir_fd, "the workdir " + workdir_)) {
    const std::string path = join_rel(rel, d.name);
    struct stat st;
    if (::fstatat(dir_fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return path;
    if (exclude_.active && st.st_dev == exclude_.dev && st.st_ino == exclude_.ino) continue;
    if (!S_ISDIR(st.st_mode)) return path;
    Fd sub(open_dir_at(dir_fd, d.name.c_str()));
    if (!sub) return path;
    if (auto held = first_non_directory(sub.get(), path)) return held;
  }
  return std::nullopt;
}

WorkdirExtract::~WorkdirExtract() = default;

void WorkdirExtract::fail(const char* what, const std::string& path, int err) const {
  const std::string msg = std::string("import: cannot ") + what + " \"" + (path.empty() ? "." : path) + "\" in " +
                          workdir_ + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) throw StorageFull(msg);
  throw Error(ErrorCode::internal, msg);
}

int WorkdirExtract::open_dir(const std::string& path) {
  if (path.empty()) return root_.get();
  if (cached_dir_ && path == cached_dir_path_) return cached_dir_.get();
  Fd cur;
  int at = root_.get();
  std::string walked;
  for (std::string_view rest = path; !rest.empty();) {
    const auto slash = rest.find('/');
    const std::string c(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    walked += (walked.empty() ? "" : "/") + c;
    Fd next(open_dir_at(at, c.c_str()));
    if (!next && errno == ENOENT) {
      // Not listed (yet): made as the archive's implied parents are; a later
      // entry of its own sets its mode.
      if (::mkdirat(at, c.c_str(), 0700) != 0 && errno != EEXIST) fail("create directory", walked, errno);
      dir_index_.emplace(walked, dirs_.size());
      dirs_.push_back({walked, kImpliedDirMode, {0, UTIME_OMIT}, ""});
      ++written_;
      next = Fd(open_dir_at(at, c.c_str()));
    }
    if (!next) fail("open directory", walked, errno);
    struct stat st;
    if (exclude_.active && at == root_.get() && ::fstat(next.get(), &st) == 0 && st.st_dev == exclude_.dev &&
        st.st_ino == exclude_.ino)
      throw Error(ErrorCode::invalid, "archive entry \"" + walked + "\": is where this sidecar keeps its checkpoints");
    cur = std::move(next);
    at = cur.get();
  }
  cached_dir_ = std::move(cur);
  cached_dir_path_ = path;
  return cached_dir_.get();
}

int WorkdirExtract::parent_of_entry(const std::string& path) { return open_dir(std::string(parent_rel(path))); }

void WorkdirExtract::begin(const ManifestEntry& e) {
  close_file();
  switch (e.kind) {
    case EntryKind::dir: {
      open_dir(e.path);
      // A directory made earlier as a parent takes this entry's mode and time.
      auto [it, added] = dir_index_.emplace(e.path, dirs_.size());
      if (!added) {
        dirs_[it->second] = {e.path, e.mode, e.mtime, ""};
      } else {
        dirs_.push_back({e.path, e.mode, e.mtime, ""});
        if (!e.path.empty()) ++written_;
      }
      break;
    }
    case EntryKind::file: {
      const int dir = parent_of_entry(e.path);
      file_ = Fd(::openat(dir, std::string(base_rel(e.path)).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!file_) fail("create", e.path, errno);
      file_mode_ = e.mode;
      file_mtime_ = e.mtime;
      file_path_ = e.path;
      ++written_;
      break;
    }
    case EntryKind::symlink: links_.push_back({e.path, 0, e.mtime, e.target}); break;
    case EntryKind::fifo: throw Error(ErrorCode::internal, "import: FIFO \"" + e.path + "\" reached the workdir");
  }
}

void WorkdirExtract::write(const char* data, std::size_t n) {
  for (std::size_t done = 0; done < n;) {
    const ssize_t w = ::write(file_.get(), data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("write", file_path_, errno);
    done += static_cast<std::size_t>(w);
  }
}

void WorkdirExtract::close_file() {
  if (!file_) return;
  const timespec times[2] = {{0, UTIME_OMIT}, file_mtime_};
  if (::fchmod(file_.get(), file_mode_) != 0 || ::futimens(file_.get(), times) != 0) fail("set the mode of", file_path_, errno);
  file_ = Fd();
}

void WorkdirExtract::finish() {
  close_file();
  for (const auto& l : links_) {
    if (::symlinkat(l.target.c_str(), parent_of_entry(l.path), std::string(base_rel(l.path)).c_str()) != 0)
      fail("create symlink", l.path, errno);
    ++written_;
  }
  // Deepest first: a directory's mode may forbid writing into it, and
  // setting a child's times does not move its parent's.
  std::stable_sort(dirs_.begin(), dirs_.end(), [](const Later& a, const Later& b) { return depth(a.path) > depth(b.path); });
  for (const auto& d : dirs_) {
    const int fd = open_dir(d.path);
    const timespec times[2] = {{0, UTIME_OMIT}, d.mtime};
    if (::fchmod(fd, d.mode) != 0 || ::futimens(fd, times) != 0) fail("set the mode of", d.path, errno);
  }
  cached_dir_ = Fd();
}

}  // namespace arl::sidecar
