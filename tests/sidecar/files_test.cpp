#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/error.h"
#include "sidecar/files.h"
#include "sidecar_test_util.h"
#include "../error_code_of.h"

using arl::test_support::error_code_of;
using namespace arl;
using namespace arl::sidecar;
using arl::sidecar::testing::TempDir;

namespace {
core::FileWriteRequest req(const std::string& path, const std::string& content = "x") {
  core::FileWriteRequest r;
  r.path = path;
  r.content = content;
  return r;
}
}  // namespace

TEST_CASE("relative file paths are written under the workdir, parents created") {
  TempDir work;
  auto r = write_file(work.path, req("a/b/c.txt", "hello"));
  CHECK(r.path == work.path + "/a/b/c.txt");
  CHECK(r.bytes == 5);
  CHECK(testing::read_file(work.path + "/a/b/c.txt") == "hello");
  write_file(work.path, req("./a/../a/b/c.txt", "again"));
  CHECK(testing::read_file(work.path + "/a/b/c.txt") == "again");
  // Only the file: no temporary left next to it.
  CHECK(std::distance(std::filesystem::directory_iterator(work.path + "/a/b"), {}) == 1);
}

TEST_CASE("a relative path through a symlink the sandbox planted does not leave the workdir") {
  struct Restore {
    ~Restore() { use_openat2(true); }
  } restore;
  // Both resolutions: openat2 (kernel >= 5.6) and the O_NOFOLLOW walk.
  for (bool with_openat2 : {true, false}) {
    CAPTURE(with_openat2);
    use_openat2(with_openat2);
    TempDir work, outside;
    REQUIRE(symlink(outside.path.c_str(), (work.path + "/out").c_str()) == 0);
    CHECK_THROWS_WITH_AS(write_file(work.path, req("out/pwned.txt")),
                         with_openat2 ? "path: \"out/pwned.txt\" leads outside the workdir through a symbolic link"
                                      : "path: \"out/pwned.txt\" goes through a symbolic link, which is not followed on "
                                        "this kernel (no openat2); use the link's target or an absolute path",
                         Error);
    CHECK_THROWS_AS(write_file(work.path, req("out/deeper/pwned.txt")), Error);
    CHECK_FALSE(std::filesystem::exists(outside.path + "/pwned.txt"));
    CHECK_FALSE(std::filesystem::exists(outside.path + "/deeper"));
    // The file name itself a symlink: replaced, never followed.
    REQUIRE(symlink((outside.path + "/target").c_str(), (work.path + "/link.txt").c_str()) == 0);
    write_file(work.path, req("link.txt", "inside"));
    CHECK_FALSE(std::filesystem::exists(outside.path + "/target"));
    CHECK(testing::read_file(work.path + "/link.txt") == "inside");
    // A symlink that stays inside: followed with openat2, refused by the walk.
    std::filesystem::create_directory(work.path + "/real");
    REQUIRE(symlink("real", (work.path + "/alias").c_str()) == 0);
    if (with_openat2) {
      write_file(work.path, req("alias/f", "via alias"));
      CHECK(testing::read_file(work.path + "/real/f") == "via alias");
    } else {
      CHECK_THROWS_AS(write_file(work.path, req("alias/f")), Error);
    }
  }
}

TEST_CASE("the client's path mistakes are 4xx naming path, never a 500") {
  TempDir work;
  CHECK_THROWS_WITH_AS(write_file(work.path, req(std::string(5000, 'p'))),
                       "path: 5000 bytes long; the limit is 4095", Error);
  CHECK_THROWS_WITH_AS(write_file(work.path, req(std::string(300, 'n') + "/f")),
                       "path: a component is 300 bytes long; the limit is 255", Error);
  CHECK_THROWS_WITH_AS(write_file(work.path, req("../x")),
                       "path: \"../x\" escapes the workdir; use a path under it or an absolute path", Error);
  write_file(work.path, req("plain"));
  CHECK_THROWS_WITH_AS(write_file(work.path, req("plain/sub")),
                       "path: \"plain/sub\" has a file where a directory must be", Error);
  auto proc = error_code_of([&] { write_file(work.path, req("/proc/self/comm")); });
  CHECK((proc == ErrorCode::invalid || proc == ErrorCode::forbidden));
  std::filesystem::create_directory(work.path + "/d");
  CHECK_THROWS_WITH_AS(write_file(work.path, req("d")), ("path: \"" + work.path + "/d\" is an existing directory").c_str(),
                       Error);
}
