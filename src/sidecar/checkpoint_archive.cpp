#include "sidecar/checkpoint_archive.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "sidecar/file_clone.h"
#include "sidecar/gzip_stream.h"
#include "sidecar/tar_format.h"
#include "sidecar/workdir_extract.h"

namespace arl::sidecar {
namespace {

// Tar bytes produced per next(): big enough that deflate and the socket see
// large writes, small enough to keep a few hundred KiB in memory per export.
constexpr std::size_t kPiece = 256 * 1024;
// Imported file data starts block-aligned in the pack, as snapshot_tree's
// reflinks leave it, so a restore on a reflink filesystem can clone it.
constexpr std::uint64_t kPackAlign = 4096;
// Linux follows at most 40 symlinks in one lookup; beyond that it is ELOOP.
constexpr int kMaxLinkHops = 40;
// Linux's PATH_MAX; and all names together, so entries of long names cannot
// fill the sidecar's memory.
constexpr std::size_t kMaxPath = 4096;
constexpr std::uint64_t kMaxNameBytes = 64ull << 20;

std::string quoted(std::string_view path) { return "\"" + std::string(path.empty() ? "." : path) + "\""; }

[[noreturn]] void refuse(std::string_view path, const std::string& why) {
  throw Error(ErrorCode::invalid, "archive entry " + quoted(path) + ": " + why);
}

bool read_full(int fd, char* buf, std::size_t n, std::uint64_t at) {
  for (std::size_t got = 0; got < n;) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(at + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// '/' sorts before every other byte, so a directory's entries follow it
// directly ("a", "a/b", "a-b"): the depth-first order restore_tree walks.
bool walk_order(const std::string& a, const std::string& b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto key = [](char c) { return c == '/' ? 0u : static_cast<unsigned char>(c) + 1u; };
    return key(x) < key(y);
  });
}

// "./a//b/" -> "a/b"; "." and "./" -> "" (the workdir). Refuses absolute
// paths and ".." anywhere: what an archive names must land inside the workdir.
std::string normalize(const std::string& raw) {
  if (raw.empty()) refuse(raw, "empty name");
  if (raw.find('\0') != std::string::npos) refuse(raw.substr(0, raw.find('\0')), "NUL byte in the name");
  if (raw[0] == '/') refuse(raw, "absolute paths are not accepted; archive paths must be relative to the workdir");
  std::string out;
  std::size_t i = 0;
  while (i <= raw.size()) {
    std::size_t j = raw.find('/', i);
    if (j == std::string::npos) j = raw.size();
    std::string_view c(raw.data() + i, j - i);
    if (c == "..") refuse(raw, "\"..\" components are not accepted; they could climb out of the workdir");
    if (!c.empty() && c != ".") {
      if (!out.empty()) out += '/';
      out += c;
    }
    i = j + 1;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- export

struct ArchiveExport::Impl {
  Manifest m;
  Fd pack;
  std::optional<GzipWriter> gz;  // none for kPlainTar
  std::size_t next_entry = 0;
  std::uint64_t data_left = 0;   // of the file being written
  std::uint64_t data_at = 0;     // its position in the pack
  std::size_t pad = 0;           // after its data
  std::string tar;               // uncompressed bytes not yet deflated
  bool finished = false;

  Impl(Manifest manifest, Fd p, int level) : m(std::move(manifest)), pack(std::move(p)) {
    if (level != kPlainTar) gz.emplace(level);
  }

  // Appends the next tar bytes (headers, file data) up to about kPiece.
  // False when there is nothing left.
  bool fill() {
    while (tar.size() < kPiece) {
      if (data_left > 0) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(data_left, kPiece - tar.size()));
        const std::size_t at = tar.size();
        tar.resize(at + n);  // read in place: no bounce buffer
        if (!read_full(pack.get(), tar.data() + at, n, data_at))
          throw Error(ErrorCode::internal, "checkpoint " + m.id + ": its data file is shorter than its manifest says");
        data_left -= n;
        data_at += n;
        if (data_left == 0) tar.append(pad, '\0');
        continue;
      }
      if (next_entry == m.entries.size()) return !tar.empty();
      const ManifestEntry& e = m.entries[next_entry++];
      tar::Entry t;
      t.mode = e.mode;
      t.mtime = e.mtime.tv_sec;
      switch (e.kind) {
        case EntryKind::dir: t.type = tar::kDirectory; t.path = e.path.empty() ? "./" : e.path + "/"; break;
        case EntryKind::symlink: t.type = tar::kSymlink; t.path = e.path; t.linkpath = e.target; break;
        case EntryKind::file: t.type = tar::kFile; t.path = e.path; t.size = e.offset < 0 ? 0 : e.size; break;
        case EntryKind::fifo: continue;  // no data to carry, and the import refuses FIFOs
      }
      tar::write_header(tar, t);
      data_left = t.size;
      data_at = e.offset < 0 ? 0 : static_cast<std::uint64_t>(e.offset);
      pad = tar::padding(t.size);
    }
    return true;
  }
};

ArchiveExport::ArchiveExport(Manifest manifest, Fd pack, int level)
    : impl_(std::make_unique<Impl>(std::move(manifest), std::move(pack), level)) {}
ArchiveExport::~ArchiveExport() = default;

bool ArchiveExport::next(std::string& out) {
  out.clear();
  while (out.empty()) {
    if (impl_->finished) return false;
    auto& gz = impl_->gz;
    if (impl_->fill()) {
      if (!gz) {
        out.swap(impl_->tar);
        impl_->tar.clear();
        continue;
      }
      gz->write(impl_->tar.data(), impl_->tar.size(), out);
      impl_->tar.clear();
    } else {
      const auto eoa = tar::end_of_archive();
      impl_->finished = true;
      if (!gz) {
        out.assign(eoa.data(), eoa.size());
        continue;
      }
      gz->write(eoa.data(), eoa.size(), out);
      gz->finish(out);
    }
  }
  return true;
}

// ---------------------------------------------------------------- import

struct ArchiveImport::Impl : tar::Reader::Handler {
  int pack = -1;
  WorkdirExtract* extract = nullptr;  // instead of the pack
  ImportLimits limits;
  tar::Reader reader{*this};
  std::optional<GzipReader> gz;
  std::uint64_t in = 0;
  Manifest m;
  std::unordered_map<std::string, std::size_t> index;  // path -> entry
  std::uint64_t pack_end = 0;
  ManifestEntry* current = nullptr;  // the file whose data is arriving
  std::uint64_t current_written = 0;

  std::uint64_t tar_bytes = 0;   // uncompressed
  std::uint64_t name_bytes = 0;  // paths and targets held in memory

  Impl(int p, WorkdirExtract* x, ImportLimits l, bool gzip) : pack(p), extract(x), limits(l) {
    if (gzip) gz.emplace([this](const char* d, std::size_t n) { read_tar(d, n); });
  }

  // Counted before parsing: a gzip bomb is stopped by its uncompressed size,
  // not by the disk or the time it would take. Beyond the file data, each
  // entry may bring a header block, padding and a long name.
  void read_tar(const char* d, std::size_t n) {
    tar_bytes += n;
    const std::uint64_t most = limits.max_bytes + limits.max_entries * 2 * tar::kBlock + kMaxNameBytes;
    if (tar_bytes > most)
      throw Error(ErrorCode::invalid, fmt::format("archive: more than {} bytes once uncompressed, beyond what the "
                                                  "{}-byte checkpoint cap (--checkpoint-max-bytes) allows",
                                                  most, limits.max_bytes));
    reader.feed(d, n);
  }

  void on_entry(const tar::Entry& t) override {
    current = nullptr;
    if (m.entries.size() >= limits.max_entries)
      throw Error(ErrorCode::invalid, fmt::format("archive: more than {} entries; checkpoint fewer files", limits.max_entries));
    name_bytes += t.path.size() + t.linkpath.size();
    if (name_bytes > kMaxNameBytes)
      throw Error(ErrorCode::invalid, fmt::format("archive: its names and link targets hold more than {} bytes", kMaxNameBytes));
    ManifestEntry e;
    e.path = normalize(t.path);
    if (e.path.size() > kMaxPath) refuse(e.path.substr(0, 64) + "...", fmt::format("name longer than {} bytes", kMaxPath));
    e.mode = t.mode & 01777;
    e.mtime = {t.mtime, 0};
    switch (t.type) {
      case tar::kFile:
      case tar::kOldFile:
      case tar::kContiguous: e.kind = EntryKind::file; break;
      case tar::kDirectory: e.kind = EntryKind::dir; break;
      case tar::kSymlink:
        e.kind = EntryKind::symlink;
        if (t.linkpath.empty()) refuse(e.path, "symlink without a target");
        if (t.linkpath[0] == '/')
          refuse(e.path, "symlink target \"" + t.linkpath + "\" is absolute; only relative targets inside the workdir are accepted");
        if (t.linkpath.find('\0') != std::string::npos) refuse(e.path, "NUL byte in the symlink target");
        e.target = t.linkpath;
        break;
      case tar::kHardLink: refuse(e.path, "hard links are not accepted (to \"" + t.linkpath + "\"); archive the file itself");
      case tar::kCharDevice:
      case tar::kBlockDevice: refuse(e.path, "devices are not accepted");
      case tar::kFifo: refuse(e.path, "FIFOs are not accepted");
      default: refuse(e.path, fmt::format("entry type '{}' is not accepted (only files, directories and symlinks)", t.type));
    }
    if (e.kind != EntryKind::file && t.size > 0) refuse(e.path, "a directory or symlink entry must not carry data");
    if (e.path.empty() && e.kind != EntryKind::dir) refuse(e.path, "the workdir itself must be a directory");
    if (index.count(e.path)) refuse(e.path, "appears twice in the archive");
    if (e.kind == EntryKind::file && t.size > 0) {
      if (m.bytes + t.size > limits.max_bytes)
        refuse(e.path, fmt::format("brings the archive's file data to {} bytes, over the {}-byte checkpoint cap "
                                   "(--checkpoint-max-bytes)",
                                   m.bytes + t.size, limits.max_bytes));
      if (m.bytes + t.size > limits.budget)
        throw StorageFull(fmt::format("import: archive entry {} brings its file data to {} bytes but only {} of the "
                                      "{}-byte checkpoint cap are free; delete some checkpoints (DELETE /checkpoints/{{id}})",
                                      quoted(e.path), m.bytes + t.size, limits.budget, limits.max_bytes));
      e.size = t.size;
      if (!extract) {
        pack_end = (pack_end + kPackAlign - 1) / kPackAlign * kPackAlign;
        e.offset = static_cast<std::int64_t>(pack_end);
        pack_end += t.size;
      }
      m.bytes += t.size;
    }
    if (extract) extract->begin(e);
    if (e.kind == EntryKind::dir && !e.path.empty()) ++m.dirs;
    if (e.kind != EntryKind::dir) ++m.files;
    index.emplace(e.path, m.entries.size());
    m.entries.push_back(std::move(e));
    if (m.entries.back().kind == EntryKind::file) {
      current = &m.entries.back();
      current_written = 0;
    }
  }

  void on_data(const char* data, std::size_t n) override {
    // on_entry refused data for anything but a file with a size.
    if (extract) return extract->write(data, n);
    const auto at = static_cast<std::uint64_t>(current->offset) + current_written;
    for (std::size_t done = 0; done < n;) {
      ssize_t w = ::pwrite(pack, data + done, n - done, static_cast<off_t>(at + done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        const int e = errno;
        const std::string msg = "import: cannot store " + quoted(current->path) + ": " + std::strerror(e);
        if (e == ENOSPC || e == EDQUOT) throw StorageFull(msg);
        throw Error(ErrorCode::internal, msg);
      }
      done += static_cast<std::size_t>(w);
    }
    current_written += n;
  }

  // Follows `target` from directory `dir` as the kernel will once the archive
  // is the workdir, through the archive's own symlinks; false when it climbs
  // above the workdir or loops. Components the archive lacks are taken as
  // plain directories: the lookup would fail there, not escape.
  bool stays_inside(std::vector<std::string>& dir, std::string_view target, int& hops) const {
    if (!target.empty() && target[0] == '/') return false;
    while (!target.empty()) {
      const auto slash = target.find('/');
      const std::string_view c = target.substr(0, slash);
      target = slash == std::string_view::npos ? std::string_view() : target.substr(slash + 1);
      if (c.empty() || c == ".") continue;
      if (c == "..") {
        if (dir.empty()) return false;
        dir.pop_back();
        continue;
      }
      dir.emplace_back(c);
      std::string path;
      for (const auto& d : dir) path += (path.empty() ? "" : "/") + d;
      auto it = index.find(path);
      if (it != index.end() && m.entries[it->second].kind == EntryKind::symlink) {
        if (++hops > kMaxLinkHops) return false;
        dir.pop_back();
        if (!stays_inside(dir, m.entries[it->second].target, hops)) return false;
      }
    }
    return true;
  }

  Manifest finish() {
    if (gz && !reader.ended()) gz->finish();
    reader.finish();
    // Parents the archive implies but does not list (tar allows it).
    std::vector<ManifestEntry> implied;
    if (!index.count("")) {
      ManifestEntry root;
      root.kind = EntryKind::dir;
      root.mode = kImpliedDirMode;
      index.emplace("", m.entries.size());
      implied.push_back(std::move(root));
    }
    for (const auto& e : m.entries) {
      for (std::string_view p = parent_rel(e.path);; p = parent_rel(p)) {
        auto it = index.find(std::string(p));
        if (it != index.end()) {
          const auto& parent = it->second < m.entries.size() ? m.entries[it->second] : implied[it->second - m.entries.size()];
          if (parent.kind != EntryKind::dir) refuse(e.path, "its parent " + quoted(p) + " is not a directory in the archive");
          break;
        }
        ManifestEntry d;
        d.kind = EntryKind::dir;
        d.path = std::string(p);
        d.mode = kImpliedDirMode;
        index.emplace(d.path, m.entries.size() + implied.size());
        if (!d.path.empty()) ++m.dirs;
        implied.push_back(std::move(d));
        if (p.empty()) break;
      }
    }
    for (const auto& e : m.entries) {
      if (e.kind != EntryKind::symlink) continue;
      std::vector<std::string> dir;
      for (std::string_view p = parent_rel(e.path); !p.empty();) {
        const auto slash = p.find('/');
        dir.emplace_back(p.substr(0, slash));
        p = slash == std::string_view::npos ? std::string_view() : p.substr(slash + 1);
      }
      int hops = 0;
      if (!stays_inside(dir, e.target, hops))
        refuse(e.path, "symlink target \"" + e.target + "\" leads outside the workdir");
    }
    for (auto& d : implied) m.entries.push_back(std::move(d));
    if (extract) extract->finish();
    std::sort(m.entries.begin(), m.entries.end(), [](const ManifestEntry& a, const ManifestEntry& b) {
      return walk_order(a.path, b.path);
    });
    return std::move(m);
  }
};

ArchiveImport::ArchiveImport(int pack_fd, ImportLimits limits, bool gzip)
    : impl_(std::make_unique<Impl>(pack_fd, nullptr, limits, gzip)) {}
ArchiveImport::ArchiveImport(WorkdirExtract& into, ImportLimits limits, bool gzip)
    : impl_(std::make_unique<Impl>(-1, &into, limits, gzip)) {}
ArchiveImport::~ArchiveImport() = default;

void ArchiveImport::feed(const char* data, std::size_t n) {
  impl_->in += n;
  if (impl_->reader.ended()) return;  // what follows the end marker is not inflated
  if (impl_->gz) impl_->gz->feed(data, n);
  else impl_->read_tar(data, n);
}

Manifest ArchiveImport::finish() { return impl_->finish(); }

std::uint64_t ArchiveImport::bytes_in() const { return impl_->in; }

}  // namespace arl::sidecar
