#include "sidecar/workdir_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"
#include "sidecar/dir_fd.h"

namespace arl::sidecar {
namespace {

[[noreturn]] void fail(const std::string& what, const std::string& path, int e) {
  throw Error(ErrorCode::internal, "checkpoint: cannot " + what + " workdir entry \"" + path + "\": " + std::strerror(e));
}

ManifestEntry entry_of(EntryKind kind, const std::string& path, const struct stat& st) {
  ManifestEntry e;
  e.kind = kind;
  e.path = path;
  e.mode = st.st_mode & 07777;
  e.mtime = st.st_mtim;
  e.ctime = st.st_ctim;
  e.ino = st.st_ino;
  return e;
}

class Snapshotter {
 public:
  Snapshotter(int pack_fd, std::uint64_t budget, const ExcludedDir& exclude, CloneState& clone)
      : pack_(pack_fd), budget_(budget), exclude_(exclude), clone_(clone) {}

  void walk(int dir_fd, const std::string& rel) {
    for (const auto& d : list_dir(dir_fd, rel.empty() ? "the workdir" : "\"" + rel + "\"")) {
      const std::string path = join_rel(rel, d.name);
      if (d.type == DT_REG && add_file(dir_fd, d.name, path)) continue;  // one stat fewer per file
      struct stat st;
      if (::fstatat(dir_fd, d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while we looked: not part of the snapshot
        fail("stat", path, errno);
      }
      switch (st.st_mode & S_IFMT) {
        case S_IFDIR: add_dir(dir_fd, d.name, path, st); break;
        case S_IFREG: add_file(dir_fd, d.name, path); break;  // replaced since the listing: skipped
        case S_IFLNK: add_symlink(dir_fd, d.name, path, st); break;
        case S_IFIFO: out_.manifest.entries.push_back(entry_of(EntryKind::fifo, path, st)); ++out_.manifest.files; break;
        default: ++out_.manifest.skipped;  // sockets, devices: nothing a restore could bring back
      }
    }
  }

  SnapshotOutcome take() { return std::move(out_); }
  void add_root(const struct stat& st) { out_.manifest.entries.push_back(entry_of(EntryKind::dir, "", st)); }

 private:
  void add_dir(int parent, const std::string& name, const std::string& path, const struct stat& st) {
    if (exclude_.active && st.st_dev == exclude_.dev && st.st_ino == exclude_.ino) return;
    out_.manifest.entries.push_back(entry_of(EntryKind::dir, path, st));
    ++out_.manifest.dirs;
    Fd fd(open_dir_at(parent, name.c_str()));
    if (!fd && errno == EACCES && ::geteuid() != 0 && ::fchmodat(parent, name.c_str(), st.st_mode | S_IRWXU, 0) == 0) {
      fd = Fd(open_dir_at(parent, name.c_str()));
      ::fchmod(fd.get(), st.st_mode & 07777);
    }
    if (!fd) {
      if (errno == ENOENT) return;
      fail("open", path, errno);
    }
    walk(fd.get(), path);
  }

  // False when `name` is not a regular file (any more): the caller stats it.
  bool add_file(int parent, const std::string& name, const std::string& path) {
    Fd src(::openat(parent, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!src) {
      if (errno == ENOENT) return true;  // removed since the listing
      if (errno == ELOOP) return false;  // a symlink now
      fail("open", path, errno);
    }
    struct stat st;
    if (::fstat(src.get(), &st) != 0) fail("stat", path, errno);
    if (!S_ISREG(st.st_mode)) return false;
    ManifestEntry e = entry_of(EntryKind::file, path, st);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    out_.bytes_needed += size;
    ++out_.manifest.files;
    if (size > 0) {
      if (out_.over_budget || out_.manifest.bytes + size > budget_) {
        out_.over_budget = true;  // walk on without copying: the caller wants the total
        return true;
      }
      e.size = size;
      e.offset = static_cast<std::int64_t>(
          append_to_pack(src.get(), pack_, &pack_end_, &e.size, clone_, "checkpoint: copying \"" + path + "\""));
      // Written to while we copied: the record must not claim the old stat,
      // so the next restore compares this file instead of trusting it.
      if (e.size != size) e.ctime = {};
      out_.manifest.bytes += e.size;
    }
    out_.manifest.entries.push_back(std::move(e));
    return true;
  }

  void add_symlink(int parent, const std::string& name, const std::string& path, const struct stat& st) {
    ManifestEntry e = entry_of(EntryKind::symlink, path, st);
    std::string target(static_cast<size_t>(st.st_size > 0 ? st.st_size : 256), '\0');
    for (;;) {
      ssize_t n = ::readlinkat(parent, name.c_str(), target.data(), target.size());
      if (n < 0) {
        if (errno == ENOENT) return;
        fail("read symlink", path, errno);
      }
      if (static_cast<size_t>(n) < target.size()) {
        target.resize(static_cast<size_t>(n));
        break;
      }
      target.resize(target.size() * 2);  // grew since the stat
    }
    e.target = std::move(target);
    out_.manifest.entries.push_back(std::move(e));
    ++out_.manifest.files;
  }

  int pack_;
  std::uint64_t budget_;
  const ExcludedDir& exclude_;
  CloneState& clone_;
  std::uint64_t pack_end_ = 0;
  SnapshotOutcome out_;
};

}  // namespace

ExcludedDir excluded_dir(const std::string& path) {
  ExcludedDir x;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    x.active = true;
    x.dev = st.st_dev;
    x.ino = st.st_ino;
  }
  return x;
}

SnapshotOutcome snapshot_tree(const std::string& workdir, int pack_fd, std::uint64_t budget, const ExcludedDir& exclude,
                              CloneState& clone) {
  Fd root(::open(workdir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!root || ::fstat(root.get(), &st) != 0)
    throw Error(ErrorCode::internal, "checkpoint: cannot open the workdir " + workdir + ": " + std::strerror(errno));
  Snapshotter s(pack_fd, budget, exclude, clone);
  s.add_root(st);
  s.walk(root.get(), "");
  return s.take();
}

}  // namespace arl::sidecar
