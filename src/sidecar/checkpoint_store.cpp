#include "sidecar/checkpoint_store.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "core/types.h"
#include "sidecar/file_clone.h"
#include "sidecar/workdir_snapshot.h"

namespace arl::sidecar {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kManifest = "manifest";
constexpr const char* kPack = "data";
constexpr std::string_view kTmpPrefix = ".tmp-";

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

std::string random_id() {
  unsigned char b[4];
  if (getrandom(b, sizeof b, 0) != sizeof b) {
    auto t = static_cast<std::uint32_t>(Clock::now().time_since_epoch().count());
    std::memcpy(b, &t, sizeof b);
  }
  return fmt::format("{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3]);
}

core::CheckpointInfo info_of(const Manifest& m) {
  return {m.id, m.name, m.created_at, m.files, m.dirs, m.bytes, m.skipped, m.duration_ms};
}

std::string read_all(int dir_fd, const char* name) {
  Fd fd(::openat(dir_fd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string out;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

void write_all(int dir_fd, const char* name, const std::string& data) {
  Fd fd(::openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw Error(ErrorCode::internal, std::string("checkpoint: cannot write its manifest: ") + std::strerror(errno));
  for (size_t off = 0; off < data.size();) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      if (e == ENOSPC || e == EDQUOT) throw StorageFull(std::string("checkpoint: cannot write its manifest: ") + std::strerror(e));
      throw Error(ErrorCode::internal, std::string("checkpoint: cannot write its manifest: ") + std::strerror(e));
    }
    off += static_cast<size_t>(n);
  }
}

// Best effort: a leftover is removed at the next load.
void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace

CheckpointStore::CheckpointStore(CheckpointStoreOptions options)
    : options_(std::move(options)), private_root_(options_.root.empty()) {}

CheckpointStore::~CheckpointStore() { discard(); }

void CheckpointStore::discard() {
  std::lock_guard lock(mu_);
  if (private_root_ && !options_.root.empty()) remove_tree(options_.root);
  if (private_root_) {
    options_.root.clear();
    root_fd_ = Fd();
    checkpoints_.clear();
    loaded_ = false;
  }
}

std::string CheckpointStore::root() {
  std::lock_guard lock(mu_);
  return options_.root;
}

void CheckpointStore::ensure_loaded() {
  if (loaded_) return;
  if (private_root_) {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/arl-checkpoints-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      throw Error(ErrorCode::unavailable, "checkpoints: cannot create a directory for them (" + tmpl +
                                              "): " + std::strerror(errno) + "; set --checkpoint-dir");
    options_.root = tmpl;
  } else {
    std::error_code ec;
    fs::create_directories(options_.root, ec);
    if (ec)
      throw Error(ErrorCode::unavailable, "checkpoints: cannot create --checkpoint-dir " + options_.root + ": " + ec.message());
  }
  root_fd_ = Fd(::open(options_.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd_)
    throw Error(ErrorCode::unavailable, "checkpoints: cannot open " + options_.root + ": " + std::strerror(errno));
  for (const auto& d : list_dir(root_fd_.get(), "the checkpoints directory " + options_.root)) {
    if (std::string_view(d.name).substr(0, kTmpPrefix.size()) == kTmpPrefix) {
      remove_tree(options_.root + "/" + d.name);  // interrupted create or delete
      continue;
    }
    Fd dir(open_dir_at(root_fd_.get(), d.name.c_str()));
    if (!dir) continue;
    std::string text = read_all(dir.get(), kManifest);
    if (text.empty()) continue;
    try {
      Manifest m = decode_manifest(text, options_.root + "/" + d.name);
      if (m.id == d.name) checkpoints_.emplace(m.id, std::move(m));
    } catch (const Error& e) {
      log::warn("Skipped unreadable checkpoint", {{"path", options_.root + "/" + d.name}, {"error", e.what()}});
    }
  }
  loaded_ = true;
}

std::uint64_t CheckpointStore::used_bytes() const {
  std::uint64_t sum = 0;
  for (const auto& [id, m] : checkpoints_) sum += m.bytes;
  return sum;
}

std::map<std::string, Manifest>::iterator CheckpointStore::find(const std::string& ref) {
  auto it = checkpoints_.find(ref);
  if (it != checkpoints_.end()) return it;
  if (!ref.empty()) {
    for (auto j = checkpoints_.begin(); j != checkpoints_.end(); ++j)
      if (j->second.name == ref) return j;
  }
  throw Error(ErrorCode::not_found, "checkpoint \"" + ref + "\": no checkpoint has this id or name (GET /checkpoints lists them)");
}

void CheckpointStore::require_unused(const std::string& name) const {
  if (name.empty()) return;
  for (const auto& [id, m] : checkpoints_)
    if (m.name == name)
      throw Error(ErrorCode::already_exists,
                  "name: checkpoint \"" + name + "\" already exists (id " + id + "); delete it or choose another name");
}

core::CheckpointInfo CheckpointStore::create(const std::string& name) {
  const auto t0 = Clock::now();
  // Before the walk: anything that changes from here on gets a ctime at or
  // after it, and a restore compares such files by content.
  timespec taken{};
  clock_gettime(CLOCK_REALTIME_COARSE, &taken);
  std::lock_guard lock(mu_);
  ensure_loaded();
  require_unused(name);
  std::string id;
  do id = random_id();
  while (checkpoints_.count(id));

  const std::string tmp = std::string(kTmpPrefix) + id;
  const std::string tmp_path = options_.root + "/" + tmp;
  if (::mkdirat(root_fd_.get(), tmp.c_str(), 0700) != 0)
    throw Error(ErrorCode::unavailable, "checkpoint: cannot create " + tmp_path + ": " + std::strerror(errno));
  try {
    Fd dest(open_dir_at(root_fd_.get(), tmp.c_str()));
    if (!dest) throw Error(ErrorCode::internal, "checkpoint: cannot open " + tmp_path + ": " + std::strerror(errno));
    Fd pack(::openat(dest.get(), kPack, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!pack) throw Error(ErrorCode::internal, "checkpoint: cannot create " + tmp_path + "/" + kPack + ": " + std::strerror(errno));
    const std::uint64_t used = used_bytes();
    const std::uint64_t budget = used < options_.max_bytes ? options_.max_bytes - used : 0;
    CloneState clone;
    SnapshotOutcome out = snapshot_tree(options_.workdir, pack.get(), budget, excluded_dir(options_.root), clone);
    if (out.over_budget)
      throw StorageFull(fmt::format(
          "checkpoint: the workdir holds {} bytes of file data but only {} of the {}-byte checkpoint cap are free "
          "({} checkpoint(s) use {}); delete some (DELETE /checkpoints/{{id}}) or raise --checkpoint-max-bytes",
          out.bytes_needed, budget, options_.max_bytes, checkpoints_.size(), used));
    Manifest& m = out.manifest;
    m.id = id;
    m.name = name;
    m.created_at = core::format_rfc3339_fraction(std::chrono::system_clock::now(), 3);
    m.taken_at = taken;
    mark_trusted(m);
    m.duration_ms = ms_since(t0);
    write_all(dest.get(), kManifest, encode_manifest(m));
    if (::renameat(root_fd_.get(), tmp.c_str(), root_fd_.get(), id.c_str()) != 0)
      throw Error(ErrorCode::internal, "checkpoint: cannot rename " + tmp_path + ": " + std::strerror(errno));
    m.duration_ms = ms_since(t0);
    auto info = info_of(m);
    checkpoints_.emplace(id, std::move(m));
    return info;
  } catch (...) {
    remove_tree(tmp_path);
    throw;
  }
}

PendingImport::~PendingImport() {
  if (!committed && !tmp_path.empty()) remove_tree(tmp_path);
}

std::unique_ptr<PendingImport> CheckpointStore::begin_import(const std::string& name) {
  std::lock_guard lock(mu_);
  ensure_loaded();
  require_unused(name);
  auto p = std::make_unique<PendingImport>();
  p->name = name;
  std::string tmp;
  for (;;) {  // an import in flight holds its .tmp-<id> without being in checkpoints_
    do p->id = random_id();
    while (checkpoints_.count(p->id));
    tmp = std::string(kTmpPrefix) + p->id;
    if (::mkdirat(root_fd_.get(), tmp.c_str(), 0700) == 0) break;
    if (errno != EEXIST)
      throw Error(ErrorCode::unavailable, "import: cannot create " + options_.root + "/" + tmp + ": " + std::strerror(errno));
  }
  p->tmp_path = options_.root + "/" + tmp;
  p->dir = Fd(open_dir_at(root_fd_.get(), tmp.c_str()));
  if (!p->dir) throw Error(ErrorCode::internal, "import: cannot open " + p->tmp_path + ": " + std::strerror(errno));
  p->pack = Fd(::openat(p->dir.get(), kPack, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!p->pack)
    throw Error(ErrorCode::internal, "import: cannot create " + p->tmp_path + "/" + kPack + ": " + std::strerror(errno));
  const std::uint64_t used = used_bytes();
  p->budget = used < options_.max_bytes ? options_.max_bytes - used : 0;
  p->max_bytes = options_.max_bytes;
  return p;
}

core::CheckpointInfo CheckpointStore::commit_import(PendingImport& p, Manifest m, double duration_ms) {
  std::lock_guard lock(mu_);
  for (const auto& [id, other] : checkpoints_) {
    if (!p.name.empty() && other.name == p.name)
      throw Error(ErrorCode::already_exists,
                  "name: checkpoint \"" + p.name + "\" already exists (id " + id + "); delete it or choose another name");
  }
  const std::uint64_t used = used_bytes();
  if (used + m.bytes > options_.max_bytes)
    throw StorageFull(fmt::format("import: the archive holds {} bytes of file data but only {} of the {}-byte checkpoint "
                                  "cap are free now; delete some checkpoints or raise --checkpoint-max-bytes",
                                  m.bytes, used < options_.max_bytes ? options_.max_bytes - used : 0, options_.max_bytes));
  m.id = p.id;
  m.name = p.name;
  m.created_at = core::format_rfc3339_fraction(std::chrono::system_clock::now(), 3);
  // No stat of the imported files was ever seen: with taken_at at zero no
  // entry is trusted, so a restore compares every file by content.
  m.taken_at = {};
  mark_trusted(m);
  m.duration_ms = duration_ms;
  write_all(p.dir.get(), kManifest, encode_manifest(m));
  const std::string tmp = std::string(kTmpPrefix) + p.id;
  if (::renameat(root_fd_.get(), tmp.c_str(), root_fd_.get(), p.id.c_str()) != 0)
    throw Error(ErrorCode::internal, "import: cannot rename " + p.tmp_path + ": " + std::strerror(errno));
  p.committed = true;
  auto info = info_of(m);
  checkpoints_.emplace(p.id, std::move(m));
  return info;
}

ArchiveSource CheckpointStore::open_archive(const std::string& ref) {
  std::lock_guard lock(mu_);
  ensure_loaded();
  const Manifest& m = find(ref)->second;
  const std::string pack_path = m.id + "/" + kPack;
  Fd pack(::openat(root_fd_.get(), pack_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pack)
    throw Error(ErrorCode::internal, "checkpoint " + m.id + ": cannot open its data " + options_.root + "/" + pack_path +
                                         ": " + std::strerror(errno));
  return {m, std::move(pack)};
}

core::CheckpointList CheckpointStore::list() {
  std::lock_guard lock(mu_);
  ensure_loaded();
  core::CheckpointList out;
  for (const auto& [id, m] : checkpoints_) out.checkpoints.push_back(info_of(m));
  std::sort(out.checkpoints.begin(), out.checkpoints.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  out.used_bytes = used_bytes();
  out.max_bytes = options_.max_bytes;
  return out;
}

core::CheckpointInfo CheckpointStore::get(const std::string& ref) {
  std::lock_guard lock(mu_);
  ensure_loaded();
  return info_of(find(ref)->second);
}

core::CheckpointDeleted CheckpointStore::remove(const std::string& ref) {
  std::lock_guard lock(mu_);
  ensure_loaded();
  auto it = find(ref);
  const std::string id = it->first;
  // Renamed first: from here it is gone, however far the removal gets.
  const std::string tmp = std::string(kTmpPrefix) + "del-" + id;
  if (::renameat(root_fd_.get(), id.c_str(), root_fd_.get(), tmp.c_str()) != 0 && errno != ENOENT)
    throw Error(ErrorCode::internal, "checkpoint " + id + ": cannot delete: " + std::strerror(errno));
  remove_tree(options_.root + "/" + tmp);
  core::CheckpointDeleted out{id, it->second.bytes};
  checkpoints_.erase(it);
  return out;
}

core::RestoreResponse CheckpointStore::restore(const std::string& ref) {
  const auto t0 = Clock::now();
  std::lock_guard lock(mu_);
  ensure_loaded();
  Manifest& m = find(ref)->second;
  const std::string pack_path = m.id + "/" + kPack;
  Fd pack(::openat(root_fd_.get(), pack_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pack)
    throw Error(ErrorCode::internal, "checkpoint " + m.id + ": cannot open its data " + options_.root + "/" + pack_path +
                                         ": " + std::strerror(errno));
  CloneState clone;
  RestoreCounts c = restore_tree(options_.workdir, pack.get(), m, excluded_dir(options_.root), clone);
  core::RestoreResponse out;
  out.id = m.id;
  out.written = c.written;
  out.removed = c.removed;
  out.unchanged = c.unchanged;
  out.duration_ms = ms_since(t0);
  return out;
}

}  // namespace arl::sidecar
