#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/read_file.h"

using namespace arl;

TEST_CASE("read_file returns the bytes; a missing file names what was being read and why") {
  char path[] = "/tmp/arl-read-file-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path, std::ios::binary) << std::string("a\0b\n", 4);
  CHECK(core::read_file(path, "-f") == std::string("a\0b\n", 4));
  std::remove(path);
  CHECK_THROWS_WITH_AS(core::read_file("/nonexistent/x.yaml", "-f"),
                       "-f: cannot read /nonexistent/x.yaml: No such file or directory", Error);
}

TEST_CASE("read_file_or_stdin reads the given stream for -") {
  std::istringstream in("kind: Task\n");
  CHECK(core::read_file_or_stdin("-", "-f", in) == "kind: Task\n");
  CHECK_THROWS_AS(core::read_file_or_stdin("/nonexistent", "-f", in), Error);
}
