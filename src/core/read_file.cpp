#include "core/read_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace arl::core {

std::string read_file(const std::string& path, const std::string& what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(ErrorCode::not_found, what + ": cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string read_file_or_stdin(const std::string& path, const std::string& what, std::istream& stdin_stream) {
  if (path != "-") return read_file(path, what);
  std::ostringstream ss;
  ss << stdin_stream.rdbuf();
  return ss.str();
}

}  // namespace arl::core
