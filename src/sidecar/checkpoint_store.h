#pragma once
// The sandbox's checkpoints (POST/GET/DELETE /checkpoints, restore): ids and
// names, the space cap, and one directory per checkpoint under a root that
// lies outside the workdir (a restore must not erase its own source, and a
// checkpoint must not contain the previous ones).
//
// A checkpoint is built in `<root>/.tmp-<id>` and renamed to `<root>/<id>`
// once complete, so a failure (cap, full disk, I/O error, crash) never
// leaves a half-written one to be listed or restored; leftovers are removed
// when the store next loads. Operations are serialised by one mutex: a
// restore never races a checkpoint of the same tree.
//
// Commands that keep running while a checkpoint is taken may change files
// under it: each file is copied as it was when read, not all at one instant.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/sidecar_protocol.h"
#include "sidecar/checkpoint_manifest.h"
#include "sidecar/dir_fd.h"

namespace arl::sidecar {

inline constexpr std::uint64_t kDefaultCheckpointMaxBytes = 1ull << 30;

struct CheckpointStoreOptions {
  std::string workdir;
  /// "" -> a private directory (`$TMPDIR/arl-checkpoints-XXXXXX`) made on
  /// first use and removed with the store: checkpoints live as long as the
  /// sidecar. A root given explicitly is kept, and its checkpoints are
  /// listed again by the next sidecar.
  std::string root;
  std::uint64_t max_bytes = kDefaultCheckpointMaxBytes;  // file data of all checkpoints together
};

/// A checkpoint being imported (POST /checkpoints/import): its directory
/// `<root>/.tmp-<id>` holds the pack being written and is removed on
/// destruction unless commit_import renamed it into place.
struct PendingImport {
  std::string id;
  std::string name;
  std::string tmp_path;
  Fd dir;
  Fd pack;
  std::uint64_t budget = 0;     // free space under the cap when the import began
  std::uint64_t max_bytes = 0;  // the cap
  bool committed = false;
  PendingImport() = default;
  PendingImport(const PendingImport&) = delete;
  PendingImport& operator=(const PendingImport&) = delete;
  ~PendingImport();
};

/// What an archive export reads: a copy of the manifest and the open pack.
struct ArchiveSource {
  Manifest manifest;
  Fd pack;
};

class CheckpointStore {
 public:
  explicit CheckpointStore(CheckpointStoreOptions options);
  ~CheckpointStore();  // removes a private root
  CheckpointStore(const CheckpointStore&) = delete;
  CheckpointStore& operator=(const CheckpointStore&) = delete;

  /// Error{invalid} for a bad name, Error{already_exists} for a name in
  /// use, StorageFull when the cap or the disk has no room for it.
  core::CheckpointInfo create(const std::string& name);
  core::CheckpointList list();
  /// `ref` is an id or a name; Error{not_found} when it is neither.
  core::CheckpointInfo get(const std::string& ref);
  core::CheckpointDeleted remove(const std::string& ref);
  core::RestoreResponse restore(const std::string& ref);

  /// Starts an import: checks the name, picks an id, makes its directory.
  /// The lock is not held while the archive streams in.
  std::unique_ptr<PendingImport> begin_import(const std::string& name);
  /// Stores the manifest and renames the import into place; StorageFull
  /// when other checkpoints took the space meanwhile.
  core::CheckpointInfo commit_import(PendingImport& pending, Manifest manifest, double duration_ms);
  /// Error{not_found} when `ref` is neither an id nor a name.
  ArchiveSource open_archive(const std::string& ref);

  /// The root in use ("" while a private one is not made yet).
  std::string root();
  const std::string& workdir() const { return options_.workdir; }
  std::uint64_t max_bytes() const { return options_.max_bytes; }
  /// Removes a private root now (shutdown paths that skip destructors).
  void discard();

 private:
  void ensure_loaded();  // mu_ held
  void require_unused(const std::string& name) const;  // mu_ held; Error{already_exists}
  std::map<std::string, Manifest>::iterator find(const std::string& ref);  // mu_ held
  std::uint64_t used_bytes() const;  // mu_ held

  CheckpointStoreOptions options_;
  bool private_root_;
  std::mutex mu_;
  bool loaded_ = false;
  Fd root_fd_;
  std::map<std::string, Manifest> checkpoints_;  // by id
};

}  // namespace arl::sidecar
