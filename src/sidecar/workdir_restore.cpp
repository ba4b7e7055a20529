#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "sidecar/dir_fd.h"
#include "sidecar/workdir_snapshot.h"

namespace arl::sidecar {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int e) {
  throw Error(ErrorCode::internal, "restore: cannot " + what + " \"" + (path.empty() ? "." : path) +
                                       "\" in the workdir: " + std::strerror(e));
}

bool operator==(const timespec& a, const timespec& b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }
bool operator<(const timespec& a, const timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

bool kind_matches(EntryKind k, mode_t mode) {
  switch (k) {
    case EntryKind::dir: return S_ISDIR(mode);
    case EntryKind::file: return S_ISREG(mode);
    case EntryKind::symlink: return S_ISLNK(mode);
    case EntryKind::fifo: return S_ISFIFO(mode);
  }
  return false;
}

class Restorer {
 public:
  Restorer(int pack_fd, Manifest& m, const ExcludedDir& exclude, CloneState& clone)
      : pack_(pack_fd), m_(m), exclude_(exclude), clone_(clone), current_(m.entries.size()) {
    clock_gettime(CLOCK_REALTIME_COARSE, &started_);
    index_.reserve(m.entries.size());
    for (size_t i = 0; i < m.entries.size(); ++i) index_.emplace(m.entries[i].path, i);
  }

  // Pass 1: remove what the checkpoint does not have (or has as another
  // kind), and note the stat of everything it does have.
  void sweep(int dir_fd, const std::string& rel) {
    for (const auto& d : list_dir(dir_fd, rel.empty() ? "the workdir" : "\"" + rel + "\"")) {
      const std::string path = join_rel(rel, d.name);
      struct stat st;
      if (::fstatat(dir_fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        fail("stat", path, errno);
      }
      if (S_ISDIR(st.st_mode) && exclude_.active && st.st_dev == exclude_.dev && st.st_ino == exclude_.ino) continue;
      auto it = index_.find(path);
      if (it == index_.end() || !kind_matches(m_.entries[it->second].kind, st.st_mode)) {
        remove_at(dir_fd, d.name, path, S_ISDIR(st.st_mode), st.st_mode);
        continue;
      }
      current_[it->second] = st;
      if (S_ISDIR(st.st_mode)) {
        Fd fd(open_dir_at(dir_fd, d.name.c_str()));
        if (!fd) fail("open", path, errno);
        bool opened_up = make_owner_accessible(fd.get(), st.st_mode);
        sweep(fd.get(), path);
        if (opened_up) current_[it->second]->st_mode |= S_IRWXU;  // pass 2 puts the recorded mode back
      }
    }
  }

  // Pass 2: in manifest order (parents first) create or rewrite what
  // differs. Open directories form a stack along the current path; each
  // gets its recorded mode when its subtree is done, so a read-only
  // directory is filled before it becomes read-only.
  void apply(int root_fd) {
    struct Open {
      size_t index;
      Fd fd;
      int raw;
    };
    std::vector<Open> stack;
    stack.push_back({0, Fd(), root_fd});
    auto pop = [&] {
      finish_dir(stack.back().raw, stack.back().index);
      stack.pop_back();
    };
    for (size_t i = 1; i < m_.entries.size(); ++i) {
      const ManifestEntry& e = m_.entries[i];
      const std::string_view parent = parent_rel(e.path);
      while (stack.size() > 1 && m_.entries[stack.back().index].path != parent) pop();
      if (m_.entries[stack.back().index].path != parent)
        throw Error(ErrorCode::internal, "restore: checkpoint manifest lists \"" + e.path + "\" before its directory");
      const int dir = stack.back().raw;
      const std::string name(base_rel(e.path));
      switch (e.kind) {
        case EntryKind::dir: {
          if (!current_[i]) {
            if (::mkdirat(dir, name.c_str(), 0700) != 0) fail("create directory", e.path, errno);
            ++counts_.written;
          }
          Fd fd(open_dir_at(dir, name.c_str()));
          if (!fd) fail("open", e.path, errno);
          int raw = fd.get();
          stack.push_back({i, std::move(fd), raw});
          break;
        }
        case EntryKind::file: restore_file(dir, name, i); break;
        case EntryKind::symlink: restore_symlink(dir, name, i); break;
        case EntryKind::fifo: restore_fifo(dir, name, i); break;
      }
    }
    while (stack.size() > 1) pop();
    finish_dir(root_fd, 0);
  }

  void set_root_stat(const struct stat& st) { current_[0] = st; }
  RestoreCounts counts() const { return counts_; }

 private:
  void finish_dir(int fd, size_t i) {
    const auto& cur = current_[i];
    if (!cur || (cur->st_mode & 07777) != m_.entries[i].mode) {
      if (::fchmod(fd, m_.entries[i].mode) != 0) fail("set the mode of", m_.entries[i].path, errno);
    }
  }

  void remove_at(int dir_fd, const std::string& name, const std::string& path, bool is_dir, mode_t mode) {
    if (is_dir) {
      Fd fd(open_dir_at(dir_fd, name.c_str()));
      if (!fd) fail("open", path, errno);
      make_owner_accessible(fd.get(), mode);
      for (const auto& d : list_dir(fd.get(), "\"" + path + "\"")) {
        bool sub_dir = d.type == DT_DIR;
        mode_t sub_mode = S_IRWXU;
        if (d.type == DT_UNKNOWN) {
          struct stat st;
          if (::fstatat(fd.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
          sub_dir = S_ISDIR(st.st_mode);
          sub_mode = st.st_mode;
        }
        remove_at(fd.get(), d.name, join_rel(path, d.name), sub_dir, sub_mode);
      }
    }
    if (::unlinkat(dir_fd, name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0 && errno != ENOENT) fail("remove", path, errno);
    ++counts_.removed;
  }

  // An unchanged file keeps its inode: processes holding it open, and the
  // next restore's fast path, both see the same file.
  bool unchanged(int dir, const std::string& name, size_t i) {
    ManifestEntry& e = m_.entries[i];
    const auto& cur = current_[i];
    if (!cur || static_cast<std::uint64_t>(cur->st_size) != e.size) return false;
    const bool same_meta = (cur->st_mode & 07777) == e.mode && cur->st_mtim == e.mtime;
    if (same_meta && cur->st_ino == e.ino && cur->st_ctim == e.ctime && e.trusted) return true;
    if (e.size > 0) {
      Fd a(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!a || !same_content(a.get(), pack_, static_cast<std::uint64_t>(e.offset), e.size)) return false;
    }
    if ((cur->st_mode & 07777) != e.mode && ::fchmodat(dir, name.c_str(), e.mode, 0) != 0) fail("set the mode of", e.path, errno);
    if (!(cur->st_mtim == e.mtime)) {
      timespec times[2] = {{0, UTIME_OMIT}, e.mtime};
      if (::utimensat(dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) fail("set the mtime of", e.path, errno);
    }
    struct stat now;
    if (::fstatat(dir, name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0) remember(e, now);
    return true;
  }

  // The file now holds the checkpoint's bytes: its stat is the new proof,
  // trusted once its ctime is older than this restore's start.
  void remember(ManifestEntry& e, const struct stat& st) {
    e.ino = st.st_ino;
    e.ctime = st.st_ctim;
    e.trusted = st.st_ctim < started_;
  }

  // An existing file is rewritten in place: replacing it by rename would
  // allocate an inode per file, the dominant cost on ext4 (file_clone.h),
  // and ext4 flushes a file renamed over another at once. Only a file that
  // cannot be opened for writing (a running executable: ETXTBSY) or has
  // other hard links (writing would change them too) is replaced instead.
  void restore_file(int dir, const std::string& name, size_t i) {
    if (unchanged(dir, name, i)) {
      ++counts_.unchanged;
      return;
    }
    ManifestEntry& e = m_.entries[i];
    const auto& cur = current_[i];
    if (cur && cur->st_nlink == 1) {
      Fd out(::openat(dir, name.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC));
      if (out) {
        fill(out.get(), e);
        ++counts_.written;
        return;
      }
    }
    if (!cur) {
      Fd out(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (out) {
        fill(out.get(), e);
        ++counts_.written;
        return;
      }
      if (errno != EEXIST) fail("write", e.path, errno);
    }
    const std::string tmp = ".arl-restore-" + std::to_string(i);
    ::unlinkat(dir, tmp.c_str(), 0);
    Fd out(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out) fail("write", e.path, errno);
    fill(out.get(), e);
    out = Fd();
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
      int err = errno;
      ::unlinkat(dir, tmp.c_str(), 0);
      fail("replace", e.path, err);
    }
    ++counts_.written;
  }

  // Bytes, then length (not O_TRUNC: ext4 flushes a file truncated to zero
  // when it is closed), then mode and mtime, which the writes would move.
  void fill(int fd, ManifestEntry& e) {
    if (e.size > 0) copy_from_pack(pack_, static_cast<std::uint64_t>(e.offset), e.size, fd, clone_, "restore: writing \"" + e.path + "\"");
    timespec times[2] = {{0, UTIME_OMIT}, e.mtime};
    struct stat st;
    if (::ftruncate(fd, static_cast<off_t>(e.size)) != 0 || ::fchmod(fd, e.mode) != 0 || ::futimens(fd, times) != 0 ||
        ::fstat(fd, &st) != 0)
      fail("write", e.path, errno);
    remember(e, st);
  }

  void restore_symlink(int dir, const std::string& name, size_t i) {
    const ManifestEntry& e = m_.entries[i];
    if (current_[i]) {
      std::string target(e.target.size() + 1, '\0');
      ssize_t n = ::readlinkat(dir, name.c_str(), target.data(), target.size());
      if (n >= 0 && static_cast<size_t>(n) == e.target.size() && target.compare(0, e.target.size(), e.target) == 0) {
        ++counts_.unchanged;
        return;
      }
    }
    const std::string tmp = ".arl-restore-" + std::to_string(i);
    ::unlinkat(dir, tmp.c_str(), 0);
    if (::symlinkat(e.target.c_str(), dir, tmp.c_str()) != 0) fail("create symlink", e.path, errno);
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
      int err = errno;
      ::unlinkat(dir, tmp.c_str(), 0);
      fail("replace", e.path, err);
    }
    ++counts_.written;
  }

  void restore_fifo(int dir, const std::string& name, size_t i) {
    const ManifestEntry& e = m_.entries[i];
    const auto& cur = current_[i];
    if (!cur) {
      if (::mkfifoat(dir, name.c_str(), 0600) != 0) fail("create FIFO", e.path, errno);
      ++counts_.written;
    } else {
      ++counts_.unchanged;
    }
    // mkfifoat's mode went through the umask: set the recorded one.
    if ((!cur || (cur->st_mode & 07777) != e.mode) && ::fchmodat(dir, name.c_str(), e.mode, 0) != 0)
      fail("set the mode of", e.path, errno);
  }

  int pack_;
  Manifest& m_;
  const ExcludedDir& exclude_;
  CloneState& clone_;
  std::unordered_map<std::string_view, size_t> index_;
  std::vector<std::optional<struct stat>> current_;
  RestoreCounts counts_;
  timespec started_{};
};

}  // namespace

RestoreCounts restore_tree(const std::string& workdir, int pack_fd, Manifest& manifest, const ExcludedDir& exclude,
                           CloneState& clone) {
  if (manifest.entries.empty() || manifest.entries[0].kind != EntryKind::dir || !manifest.entries[0].path.empty())
    throw Error(ErrorCode::internal, "restore: checkpoint manifest does not start with the workdir itself");
  Fd root(::open(workdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!root || ::fstat(root.get(), &st) != 0)
    throw Error(ErrorCode::internal, "restore: cannot open the workdir " + workdir + ": " + std::strerror(errno));
  Restorer r(pack_fd, manifest, exclude, clone);
  if (make_owner_accessible(root.get(), st.st_mode)) st.st_mode |= S_IRWXU;
  r.set_root_stat(st);
  r.sweep(root.get(), "");
  r.apply(root.get());
  return r.counts();
}

}  // namespace arl::sidecar
