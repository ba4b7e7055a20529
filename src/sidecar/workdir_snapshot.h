#pragma once
// Snapshot and restore of a directory tree, the filesystem half of the
// sidecar's checkpoints (checkpoint_store.h keeps ids, the space cap and the
// checkpoint directories). No HTTP, no locking: the store serialises calls.
//
// Every path below the workdir is reached through a directory descriptor
// opened with O_NOFOLLOW, never by a path string: code in the sandbox can
// swap a directory for a symlink while a restore runs, and the restore must
// not write through it.
//
// Restore rewrites only what differs. A file whose size, mode, mtime, inode
// and ctime all equal the record is unchanged (ctime cannot be set by user
// code, so an edit that puts mtime back is still seen). A file of the same
// size whose other metadata differs, or whose record is not yet trusted
// (ManifestEntry::trusted), is compared by content.
#include <sys/types.h>

#include <cstdint>
#include <string>

#include "sidecar/checkpoint_manifest.h"
#include "sidecar/file_clone.h"

namespace arl::sidecar {

/// A directory to leave alone on both sides (the checkpoints' own root when
/// it is configured inside the workdir): identified by device and inode, so
/// no path spelling hides it.
struct ExcludedDir {
  bool active = false;
  dev_t dev = 0;
  ino_t ino = 0;
};

/// Reads the device and inode of `path`; inactive when it does not exist.
ExcludedDir excluded_dir(const std::string& path);

struct SnapshotOutcome {
  Manifest manifest;            // entries and counts; id, name, times are the caller's
  bool over_budget = false;     // data was not all stored: discard the destination
  std::uint64_t bytes_needed = 0;  // the whole tree's file data, also when over budget
};

/// Records every directory, file, symlink and FIFO under `workdir`, the
/// files' bytes appended to the empty file `pack_fd` (ManifestEntry::offset).
/// Stops storing data once `budget` bytes would be exceeded but walks on to
/// count what the whole tree needs.
SnapshotOutcome snapshot_tree(const std::string& workdir, int pack_fd, std::uint64_t budget, const ExcludedDir& exclude,
                              CloneState& clone);

struct RestoreCounts {
  std::uint64_t written = 0;    // files, symlinks, FIFOs and directories created or rewritten
  std::uint64_t removed = 0;    // entries removed (each entry of a removed directory counted)
  std::uint64_t unchanged = 0;  // files left as they were (mode or mtime may have been fixed)
};

/// Makes `workdir` equal to `manifest`, whose file data is in `pack_fd`, and
/// updates the ino, ctime and trusted fields of the files it wrote or
/// verified. Throws Error{internal} naming the path it could not write.
RestoreCounts restore_tree(const std::string& workdir, int pack_fd, Manifest& manifest, const ExcludedDir& exclude,
                           CloneState& clone);

}  // namespace arl::sidecar
