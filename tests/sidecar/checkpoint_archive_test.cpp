#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/error.h"
#include "sidecar/checkpoint_archive.h"
#include "sidecar/checkpoint_store.h"
#include "sidecar/file_clone.h"
#include "sidecar/gzip_stream.h"
#include "sidecar/tar_format.h"
#include "sidecar_test_util.h"
#include "tree_util.h"

using namespace arl;
using namespace arl::sidecar;
using arl::sidecar::testing::TempDir;
using arl::sidecar::testing::describe;
using arl::sidecar::testing::gzip;
using arl::sidecar::testing::put;
namespace fs = std::filesystem;

namespace {

struct Side {
  TempDir work, ckpts;
  fs::path w{work.path};
  CheckpointStore store;
  explicit Side(std::uint64_t max_bytes = kDefaultCheckpointMaxBytes)
      : store(CheckpointStoreOptions{work.path, ckpts.path + "/root", max_bytes}) {}
  // Nothing but finished checkpoints in the store's root: no .tmp-<id> left.
  std::vector<std::string> root_entries() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(ckpts.path + "/root")) out.push_back(e.path().filename().string());
    return out;
  }
};

std::string export_all(CheckpointStore& store, const std::string& ref) {
  auto src = store.open_archive(ref);
  ArchiveExport ex(std::move(src.manifest), std::move(src.pack));
  std::string all, piece;
  while (ex.next(piece)) all += piece;
  return all;
}

// As the import route does it, fed in odd-sized pieces so every state of the
// parser meets a piece boundary.
core::CheckpointInfo import_bytes(CheckpointStore& store, const std::string& data, bool gzip = true,
                                  const std::string& name = "", std::uint64_t max_entries = 200000) {
  auto p = store.begin_import(name);
  ImportLimits l{p->budget, p->max_bytes, max_entries};
  ArchiveImport in(p->pack.get(), l, gzip);
  for (std::size_t at = 0; at < data.size(); at += 777) in.feed(data.data() + at, std::min<std::size_t>(777, data.size() - at));
  return store.commit_import(*p, in.finish(), 1.0);
}

std::string gunzip(const std::string& s) {
  std::string out;
  GzipReader r([&](const char* d, std::size_t n) { out.append(d, n); });
  r.feed(s.data(), s.size());
  r.finish();
  return out;
}

// A tar made of the given members (file data inline), then the end marker.
struct Member {
  char type;
  std::string path;
  std::string data_or_link;
  std::uint32_t mode = 0644;
};
std::string tar_of(const std::vector<Member>& members) {
  std::string out;
  for (const auto& m : members) {
    tar::Entry e;
    e.type = m.type;
    e.path = m.path;
    e.mode = m.mode;
    e.mtime = 1700000000;
    if (m.type == tar::kFile) e.size = m.data_or_link.size();
    else e.linkpath = m.data_or_link;
    tar::write_header(out, e);
    if (m.type == tar::kFile) {
      out += m.data_or_link;
      out.append(tar::padding(e.size), '\0');
    }
  }
  out += tar::end_of_archive();
  return out;
}

// The import is refused with exactly `message` and leaves nothing behind.
void check_refused(const std::vector<Member>& members, const std::string& message) {
  Side b;
  CHECK_THROWS_WITH_AS(import_bytes(b.store, gzip(tar_of(members))), message.c_str(), Error);
  CHECK(b.store.list().checkpoints.empty());
  CHECK(b.root_entries().empty());
}

}  // namespace

TEST_CASE("export then import restores every file kind, mode, long name, empty file and empty directory") {
  Side a, b;
  const std::string long_dir(120, 'd');
  const std::string long_name = long_dir + "/" + std::string(150, 'n') + ".txt";
  put(a.w / "src/main.py", "print('hi')\n");
  put(a.w / "src/run.sh", "#!/bin/sh\necho run\n", 0755);
  put(a.w / "secret.txt", "s3cret", 0600);
  put(a.w / "empty.txt", "");
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
  put(a.w / "data/big.bin", big);
  put(a.w / long_name, "long");
  fs::create_directories(a.w / "empty-dir/nested-empty");
  REQUIRE(chmod((a.w / "src").c_str(), 0750) == 0);
  fs::create_symlink("src/main.py", a.w / "link-to-main");
  fs::create_symlink("../" + std::string(110, 't'), a.w / "data/long-target");  // dangling but inside
  fs::create_symlink("does/not/exist", a.w / "dangling");
  REQUIRE(chmod(a.w.c_str(), 0711) == 0);
  const auto want = describe(a.w);

  auto made = a.store.create("src");
  const std::string archive = export_all(a.store, made.id);
  const std::string tar = gunzip(archive);
  CHECK(tar.size() % tar::kBlock == 0);
  CHECK(tar.find("path=" + long_name) != std::string::npos);  // a PAX header carries the long name

  put(b.w / "stale.txt", "goes away");
  auto info = import_bytes(b.store, archive, true, "copy");
  CHECK(info.name == "copy");
  CHECK(info.files == made.files);
  CHECK(info.directories == made.directories);
  CHECK(info.bytes == made.bytes);
  auto r = b.store.restore(info.id);
  CHECK(describe(b.w) == want);
  CHECK(r.removed == 1);
  // Imported checkpoints are listed like any other, and come back after a reload.
  CHECK(b.store.get("copy").id == info.id);
}

TEST_CASE("an uncompressed tar imports too, entries in any order, parents implied, setuid bits dropped") {
  Side b;
  auto info = import_bytes(b.store,
                           tar_of({{tar::kFile, "b/x/file.txt", "deep", 04755},
                                   {tar::kDirectory, "a/", "", 0700},
                                   {tar::kFile, "./a/one", "1", 0644},
                                   {tar::kSymlink, "b/up", "../a/one", 0777}}),
                           false);
  CHECK(info.files == 3);
  CHECK(info.directories == 3);  // a, b, b/x
  b.store.restore(info.id);
  auto d = describe(b.w);
  CHECK(d["a"] == "dir 448");            // 0700
  CHECK(d["b"] == "dir 493");            // implied: 0755
  CHECK(d["b/x/file.txt"] == "file 493 deep");  // 04755 -> 0755
  CHECK(d["b/up"] == "link -> ../a/one");
  CHECK(d["a/one"] == "file 420 1");
}

TEST_CASE("hostile archives are refused naming the entry, and leave nothing behind") {
  check_refused({{tar::kFile, "/etc/passwd", "x"}},
                "archive entry \"/etc/passwd\": absolute paths are not accepted; archive paths must be relative to the workdir");
  check_refused({{tar::kFile, "a/../../evil", "x"}},
                "archive entry \"a/../../evil\": \"..\" components are not accepted; they could climb out of the workdir");
  check_refused({{tar::kSymlink, "etc", "/etc"}},
                "archive entry \"etc\": symlink target \"/etc\" is absolute; only relative targets inside the workdir are accepted");
  check_refused({{tar::kSymlink, "sub/up", "../../outside"}},
                "archive entry \"sub/up\": symlink target \"../../outside\" leads outside the workdir");
  // Lexically inside, but d1/d2/s is the workdir itself, so s/.. is its parent.
  check_refused({{tar::kSymlink, "d1/d2/s", "../.."}, {tar::kSymlink, "t", "d1/d2/s/../x"}},
                "archive entry \"t\": symlink target \"d1/d2/s/../x\" leads outside the workdir");
  check_refused({{tar::kSymlink, "loop1", "loop2"}, {tar::kSymlink, "loop2", "loop1"}},
                "archive entry \"loop1\": symlink target \"loop2\" leads outside the workdir");
  check_refused({{tar::kFile, "f", "x"}, {tar::kHardLink, "g", "f"}},
                "archive entry \"g\": hard links are not accepted (to \"f\"); archive the file itself");
  check_refused({{tar::kCharDevice, "null", ""}}, "archive entry \"null\": devices are not accepted");
  check_refused({{tar::kBlockDevice, "sda", ""}}, "archive entry \"sda\": devices are not accepted");
  check_refused({{tar::kFifo, "pipe", ""}}, "archive entry \"pipe\": FIFOs are not accepted");
  check_refused({{'S', "sparse", ""}},
                "archive entry \"sparse\": entry type 'S' is not accepted (only files, directories and symlinks)");
  check_refused({{tar::kFile, "f", "x"}, {tar::kFile, "./f", "y"}}, "archive entry \"f\": appears twice in the archive");
  check_refused({{tar::kFile, "f", "x"}, {tar::kFile, "f/g", "y"}},
                "archive entry \"f/g\": its parent \"f\" is not a directory in the archive");
  // A symlink is accepted when it stays inside, also through another link.
  Side ok;
  CHECK_NOTHROW(import_bytes(ok.store, gzip(tar_of({{tar::kSymlink, "d/s", ".."}, {tar::kSymlink, "t", "d/s/d"}}))));
}

TEST_CASE("archives over the cap or the entry limit are refused while reading") {
  Side small(1000);
  CHECK_THROWS_WITH_AS(import_bytes(small.store, gzip(tar_of({{tar::kFile, "a", std::string(600, 'a')},
                                                               {tar::kFile, "b", std::string(600, 'b')}}))),
                       "archive entry \"b\": brings the archive's file data to 1200 bytes, over the 1000-byte checkpoint "
                       "cap (--checkpoint-max-bytes)",
                       Error);
  CHECK(small.root_entries().empty());

  // Within the cap but not within what other checkpoints left free: 507, not 400.
  put(small.w / "held.txt", std::string(700, 'h'));
  small.store.create("");
  CHECK_THROWS_AS(import_bytes(small.store, gzip(tar_of({{tar::kFile, "a", std::string(600, 'a')}}))), StorageFull);
  CHECK(small.store.list().checkpoints.size() == 1);

  Side b;
  CHECK_THROWS_WITH_AS(import_bytes(b.store, gzip(tar_of({{tar::kFile, "a", ""}, {tar::kFile, "b", ""}, {tar::kFile, "c", ""}})),
                                    true, "", 2),
                       "archive: more than 2 entries; checkpoint fewer files", Error);
  CHECK(b.root_entries().empty());
}

TEST_CASE("data that is not a complete archive is refused") {
  Side b;
  const std::string good = tar_of({{tar::kFile, "f", std::string(2000, 'x')}});
  CHECK_THROWS_WITH_AS(import_bytes(b.store, gzip(good.substr(0, 1024))),
                       "archive entry \"f\": the archive ends inside its data (truncated)", Error);
  CHECK_THROWS_WITH_AS(import_bytes(b.store, gzip(good).substr(0, 40)), "archive: the gzip stream is truncated", Error);
  CHECK_THROWS_WITH_AS(import_bytes(b.store, "this is not gzip at all"),
                       "archive: not valid gzip data (incorrect header check)", Error);
  CHECK_THROWS_WITH_AS(import_bytes(b.store, gzip(std::string(600, 'z'))),
                       "archive: header 1 (byte 0): checksum: not an octal number", Error);
  std::string bad = good;
  bad[10] ^= 1;  // the name changes, the checksum no longer matches
  CHECK_THROWS_WITH_AS(import_bytes(b.store, gzip(bad)),
                       "archive: header 1 (byte 0): bad header checksum: not a tar archive, or a corrupt one", Error);
  CHECK(b.root_entries().empty());
  CHECK(b.store.list().checkpoints.empty());
}

TEST_CASE("an empty archive imports as an empty workdir") {
  Side b;
  put(b.w / "x.txt", "x");
  auto info = import_bytes(b.store, gzip(std::string(tar::end_of_archive())));
  CHECK(info.files == 0);
  b.store.restore(info.id);
  CHECK(fs::is_empty(b.w));
}
