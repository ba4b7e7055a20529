#pragma once
// Workdir trees for the checkpoint tests: write a file with its mode,
// describe a whole tree (kind, permission bits, content or link target) so
// two trees compare with one ==, and gzip an archive's bytes.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <doctest/doctest.h>

#include "sidecar/gzip_stream.h"
#include "sidecar_test_util.h"

namespace arl::sidecar::testing {

inline void put(const std::filesystem::path& p, const std::string& data, mode_t mode = 0644) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  REQUIRE(chmod(p.c_str(), mode) == 0);
}

/// Every path under `root` ("." for itself), relative and not resolved
/// through symlinks; `skip` (a relative path) is left out with its subtree.
inline std::map<std::string, std::string> describe(const std::filesystem::path& root, const std::string& skip = "") {
  namespace fs = std::filesystem;
  std::map<std::string, std::string> out;
  struct stat st;
  REQUIRE(lstat(root.c_str(), &st) == 0);
  out["."] = "dir " + std::to_string(st.st_mode & 07777);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const auto rel = it->path().lexically_relative(root).string();
    if (!skip.empty() && rel == skip) {
      it.disable_recursion_pending();
      continue;
    }
    REQUIRE(lstat(it->path().c_str(), &st) == 0);
    const std::string mode = std::to_string(st.st_mode & 07777);
    if (S_ISLNK(st.st_mode)) out[rel] = "link -> " + fs::read_symlink(it->path()).string();
    else if (S_ISDIR(st.st_mode)) out[rel] = "dir " + mode;
    else if (S_ISFIFO(st.st_mode)) out[rel] = "fifo " + mode;
    else out[rel] = "file " + mode + " " + read_file(it->path().string());
  }
  return out;
}

inline std::string gzip(const std::string& s) {
  GzipWriter w(1);
  std::string out;
  w.write(s.data(), s.size(), out);
  w.finish(out);
  return out;
}

}  // namespace arl::sidecar::testing
