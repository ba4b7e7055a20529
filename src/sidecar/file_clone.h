#pragma once
// Moves file data between the workdir and a checkpoint's pack (one file
// holding every file's bytes at recorded offsets), the cheapest way the
// filesystems allow:
//   1. FICLONE_RANGE (copy-on-write reflink: btrfs, XFS with reflink,
//      bcachefs): O(extents), no data moved, no space used until either side
//      changes. Needs block-aligned pack offsets and one filesystem.
//   2. copy_file_range: the kernel copies page cache to page cache (ext4,
//      tmpfs) without a round trip through user space, a server-side copy on
//      NFS, and a reflink itself where the filesystem can.
//   3. pread/pwrite, where copy_file_range is refused (kernels before 5.3
//      across filesystems, some special filesystems).
// One pack instead of one copy per file, because creating inodes is what
// costs: on this project's ext4 test VM a fresh directory allocates an inode
// in ~1.5 ms (tmpfs: 7 us), so 1,000 copies took 1.5 s where the pack takes
// a few ms. Hard links are never used for workdir files: code in the sandbox
// writes files in place, and a linked checkpoint would change with them.
#include <cstdint>
#include <string>

#include "core/error.h"

namespace arl::sidecar {

/// No room for a checkpoint: its space cap, the disk or a quota is full.
/// The server answers it with 507 Insufficient Storage; deleting
/// checkpoints is the fix, so it is not an internal error.
class StorageFull : public Error {
 public:
  explicit StorageFull(const std::string& message) : Error(ErrorCode::conflict, message) {}
};

/// Which mechanisms still look usable; a refusal turns one off so later
/// files of the same operation do not pay for a failing syscall each.
struct CloneState {
  bool try_clone = true;
  bool try_copy_range = true;
  std::uint64_t cloned = 0;  // files stored by reflink
};

/// Appends `src`'s bytes (`*size` of them, as fstat saw it; a reflink
/// takes all to EOF) to the pack at or after `*pack_end`: block-aligned when
/// reflinking. Returns the offset it stored them at and sets `*size` to the
/// bytes stored; `*pack_end` moves past them. Throws StorageFull on
/// ENOSPC/EDQUOT, else Error{internal} naming `what`.
std::uint64_t append_to_pack(int src, int pack, std::uint64_t* pack_end, std::uint64_t* size, CloneState& state,
                             const std::string& what);

/// Writes `size` bytes of `src` from `offset` to `dst` at 0 (dst's old bytes
/// beyond `size` are the caller's to truncate).
void copy_from_pack(int src, std::uint64_t offset, std::uint64_t size, int dst, CloneState& state, const std::string& what);

/// True when `file` holds exactly the `size` bytes at `offset` of `pack`.
bool same_content(int file, int pack, std::uint64_t offset, std::uint64_t size);

}  // namespace arl::sidecar
