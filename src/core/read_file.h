#pragma once
// Whole-file reads with errors worded for users. The one kind of I/O core
// allows itself: every layer reads manifests, kubeconfigs or /proc files this
// way, and one wording of "cannot read" is better than five.
#include <iosfwd>
#include <string>

namespace arl::core {

/// The file's bytes. Error{not_found}: "<what>: cannot read <path>: <reason>".
std::string read_file(const std::string& path, const std::string& what);

/// Like read_file, but "-" reads all of `stdin_stream` (std::cin in commands,
/// a string stream in tests).
std::string read_file_or_stdin(const std::string& path, const std::string& what, std::istream& stdin_stream);

}  // namespace arl::core
