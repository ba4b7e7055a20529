#pragma once
// A checkpoint as a gzip-compressed tar (GET /checkpoints/{ref}/archive) and
// back (POST /checkpoints/import), one piece at a time: a checkpoint of any
// size is never whole in memory on either side.
//
// Export writes every directory (the workdir itself as "./"), file (mode,
// mtime in whole seconds, bytes) and symlink of the manifest. FIFOs are left
// out: the import refuses them (below), and an archive must import.
//
// Import builds the manifest and the data pack of a new checkpoint from the
// archive without touching the workdir; the store renames it into place only
// when the whole archive was read and checked. It refuses, naming the entry:
// absolute paths, ".." components, symlinks that lead outside the workdir
// once the archive is the workdir (absolute targets, relative ones climbing
// out, also through the archive's other symlinks), hard links, devices,
// FIFOs and sockets, and archives over the checkpoint cap (file data counted
// as it is read) or over `max_entries`. Set-user/group-id bits are dropped:
// a root sidecar would otherwise restore a foreign archive's setuid file as
// a root-owned one inside the sandbox.
#include <cstdint>
#include <memory>
#include <string>

#include "sidecar/checkpoint_manifest.h"
#include "sidecar/dir_fd.h"

namespace arl::sidecar {

inline constexpr const char* kGzipContentType = "application/gzip";
inline constexpr const char* kTarContentType = "application/x-tar";
/// ArchiveExport's level for a plain tar: what a fork fetches pod to pod,
/// where the network is not the limit and gzip's framing and CRC would cost
/// both sides CPU for every byte, once per fork.
inline constexpr int kPlainTar = -1;
/// The mode of a directory an archive implies but does not list.
inline constexpr std::uint32_t kImpliedDirMode = 0755;

/// Produces a checkpoint's archive for httplib's chunked content provider.
class ArchiveExport {
 public:
  /// `pack` is the checkpoint's open data file: it stays readable even if
  /// the checkpoint is deleted meanwhile. `level`: gzip 0..9, or kPlainTar.
  ArchiveExport(Manifest manifest, Fd pack, int level = 1);
  ~ArchiveExport();
  ArchiveExport(const ArchiveExport&) = delete;
  ArchiveExport& operator=(const ArchiveExport&) = delete;

  /// Replaces `out` with the next piece (never empty while it
  /// returns true); false once the archive is complete and `out` is empty.
  bool next(std::string& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct ImportLimits {
  std::uint64_t budget = 0;     // file data the cap leaves free: beyond it StorageFull (507)
  std::uint64_t max_bytes = 0;  // the whole cap: an archive holding more is refused (400)
  std::uint64_t max_entries = 200000;
};

class WorkdirExtract;

/// Consumes an archive into the empty pack file `pack_fd`, or straight into
/// a workdir (workdir_extract.h).
class ArchiveImport {
 public:
  ArchiveImport(int pack_fd, ImportLimits limits, bool gzip);
  /// Entries go to `into` as they pass their checks; its finish() runs once
  /// the whole archive passed.
  ArchiveImport(WorkdirExtract& into, ImportLimits limits, bool gzip);
  ~ArchiveImport();
  ArchiveImport(const ArchiveImport&) = delete;
  ArchiveImport& operator=(const ArchiveImport&) = delete;

  /// Throws Error{invalid} naming the entry, or StorageFull.
  void feed(const char* data, std::size_t n);
  /// Checks what needs the whole archive (links, parents), then finishes a
  /// WorkdirExtract, and returns the entries in the order a restore walks them; id, name and times are the
  /// caller's to set.
  Manifest finish();
  /// Compressed (or plain tar) bytes fed so far.
  std::uint64_t bytes_in() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace arl::sidecar
