#pragma once
// An archive written straight into an empty workdir (POST /checkpoints/import
// with keep: false, what a fork's fresh pod asks for): the files are created
// as their bytes arrive, with no checkpoint stored first and restored after,
// which would write every byte twice.
//
// ArchiveImport validates each entry before it reaches here, and the whole
// archive (symlinks that would lead outside, parents that are not
// directories) before finish(): symlinks are only created in finish(), so no
// path opened while extracting can pass through one, and every open is
// O_NOFOLLOW besides. Files are created O_EXCL and directories' modes and
// times are set last, as restore_tree does. A failure leaves the workdir
// partly written: the caller discards the sandbox.
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sidecar/checkpoint_manifest.h"
#include "sidecar/dir_fd.h"
#include "sidecar/workdir_snapshot.h"

namespace arl::sidecar {

class WorkdirExtract {
 public:
  /// Error{conflict} when `workdir` holds anything but directories and
  /// `exclude` (the checkpoint store, when it lies inside).
  WorkdirExtract(const std::string& workdir, const ExcludedDir& exclude);
  ~WorkdirExtract();
  WorkdirExtract(const WorkdirExtract&) = delete;
  WorkdirExtract& operator=(const WorkdirExtract&) = delete;

  /// A checked entry, in archive order: directories are made, files created
  /// (their bytes follow through write()), symlinks kept for finish().
  void begin(const ManifestEntry& e);
  /// Bytes of the file begun last.
  void write(const char* data, std::size_t n);
  /// After the whole archive passed its checks: symlinks, then directories'
  /// modes and times (deepest first).
  void finish();
  /// Directories, files and symlinks created (the workdir itself not counted).
  std::uint64_t written() const { return written_; }

 private:
  std::optional<std::string> first_non_directory(int dir_fd, const std::string& rel);
  int open_dir(const std::string& path);  // the directory `path` ("" the workdir), made when missing
  int parent_of_entry(const std::string& path);
  void close_file();
  [[noreturn]] void fail(const char* what, const std::string& path, int err) const;

  std::string workdir_;
  ExcludedDir exclude_;
  Fd root_;
  std::string cached_dir_path_;  // archives list a directory's files together: one open dir serves them
  Fd cached_dir_;
  Fd file_;
  std::uint32_t file_mode_ = 0;
  timespec file_mtime_{};
  std::string file_path_;
  struct Later {
    std::string path;
    std::uint32_t mode;
    timespec mtime;
    std::string target;  // symlinks
  };
  std::vector<Later> dirs_;
  std::unordered_map<std::string, std::size_t> dir_index_;  // path -> dirs_
  std::vector<Later> links_;
  std::uint64_t written_ = 0;
};

}  // namespace arl::sidecar
