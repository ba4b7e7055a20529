#pragma once
// What a checkpoint holds: one entry per directory, file, symlink and FIFO of
// the workdir, with the stat fields a restore compares to find what changed.
// Stored as `manifest` in the checkpoint's directory beside `data`, the pack
// of every file's bytes.
//
// The format is length-prefixed text, not JSON: workdir paths are bytes (not
// always UTF-8, may hold newlines) and must come back exactly.
#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace arl::sidecar {

enum class EntryKind : char { dir = 'd', file = 'f', symlink = 'l', fifo = 'p' };

struct ManifestEntry {
  EntryKind kind = EntryKind::file;
  std::string path;          // relative to the workdir, "" for the workdir itself
  std::uint32_t mode = 0;    // permission bits (07777)
  std::uint64_t size = 0;    // files: bytes stored
  timespec mtime{};          // restored with the file, so an unchanged file compares equal
  timespec ctime{};          // never settable by user code: a change always moves it
  std::uint64_t ino = 0;
  std::int64_t offset = -1;  // where the file's bytes start in the checkpoint's pack; -1: empty file
  std::string target;        // symlink target
  /// In memory only: ino and ctime prove the file unchanged. False when the
  /// ctime is not before the moment they were read (the file may change
  /// again within the same clock tick, invisibly to stat): such a file is
  /// compared by content once, then trusted. A restore updates ino and
  /// ctime of the files it wrote or verified, so its own writes do not make
  /// every later restore compare them again.
  bool trusted = false;
};

struct Manifest {
  std::string id;
  std::string name;
  std::string created_at;    // RFC 3339 UTC
  /// The filesystem clock when the snapshot began (see `trusted`).
  timespec taken_at{};
  std::uint64_t files = 0;   // entries that are not directories
  std::uint64_t dirs = 0;    // directories below the workdir
  std::uint64_t bytes = 0;   // file data stored
  std::uint64_t skipped = 0; // sockets and devices: not restorable, left out
  double duration_ms = 0;
  std::vector<ManifestEntry> entries;  // parents before their children
};

/// Sets each entry's `trusted` from its ctime and the manifest's taken_at.
void mark_trusted(Manifest& m);

std::string encode_manifest(const Manifest& m);
/// Throws Error{internal} naming `where` when the text is not a manifest.
Manifest decode_manifest(std::string_view text, const std::string& where);

}  // namespace arl::sidecar
