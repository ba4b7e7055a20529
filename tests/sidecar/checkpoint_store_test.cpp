#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "core/error.h"
#include "sidecar/checkpoint_manifest.h"
#include "sidecar/checkpoint_store.h"
#include "sidecar/file_clone.h"
#include "sidecar_test_util.h"
#include "tree_util.h"

using namespace arl;
using namespace arl::sidecar;
using arl::sidecar::testing::TempDir;
using arl::sidecar::testing::describe;
using arl::sidecar::testing::put;
namespace fs = std::filesystem;

namespace {

// Everything a restore must bring back, per path: kind, permission bits and

ino_t inode_of(const fs::path& p) {
  struct stat st;
  REQUIRE(lstat(p.c_str(), &st) == 0);
  return st.st_ino;
}

struct Fixture {
  TempDir work, ckpts;
  fs::path w{work.path};
  CheckpointStore store;
  explicit Fixture(std::uint64_t max_bytes = kDefaultCheckpointMaxBytes)
      : store(CheckpointStoreOptions{work.path, ckpts.path + "/root", max_bytes}) {}
};

}  // namespace

TEST_CASE("restore brings back every kind of entry: contents, modes, symlinks, FIFOs, empty and big files") {
  Fixture f;
  put(f.w / "src/main.py", "print('hi')\n");
  put(f.w / "src/run.sh", "#!/bin/sh\necho run\n", 0755);
  put(f.w / "secret.txt", "s3cret", 0600);
  put(f.w / "empty.txt", "");
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
  put(f.w / "data/big.bin", big);
  fs::create_directories(f.w / "empty-dir");
  fs::create_directories(f.w / "locked");
  put(f.w / "locked/inside.txt", "in a read-only dir");
  REQUIRE(chmod((f.w / "locked").c_str(), 0555) == 0);
  REQUIRE(chmod((f.w / "src").c_str(), 0750) == 0);
  fs::create_symlink("src/main.py", f.w / "link-to-main");
  fs::create_symlink("does/not/exist", f.w / "dangling");
  fs::create_symlink("/etc/hostname", f.w / "absolute");
  REQUIRE(mkfifo((f.w / "pipe").c_str(), 0640) == 0);
  REQUIRE(chmod(f.w.c_str(), 0711) == 0);
  const auto before = describe(f.w);

  auto info = f.store.create("");
  CHECK(info.id.size() == 8);
  CHECK(info.files == 10);  // 6 regular files, 3 symlinks, 1 FIFO
  CHECK(info.directories == 4);
  CHECK(info.bytes == 12 + 19 + 6 + big.size() + 18);
  CHECK(info.skipped == 0);

  // Every kind of change since.
  put(f.w / "src/main.py", "print('changed')\n");               // new content, new size
  put(f.w / "secret.txt", "S3CRET", 0600);                      // same size
  REQUIRE(chmod((f.w / "src/run.sh").c_str(), 0644) == 0);      // mode only
  fs::remove(f.w / "empty.txt");
  fs::remove(f.w / "data/big.bin");
  fs::remove(f.w / "empty-dir");
  put(f.w / "empty-dir", "now a file");                         // dir -> file
  fs::remove(f.w / "pipe");
  fs::create_directories(f.w / "pipe/sub");                     // fifo -> dir
  fs::remove(f.w / "link-to-main");
  fs::create_symlink("secret.txt", f.w / "link-to-main");       // retargeted
  fs::remove(f.w / "dangling");
  put(f.w / "dangling", "a file now");                          // symlink -> file
  REQUIRE(chmod((f.w / "locked").c_str(), 0755) == 0);
  put(f.w / "locked/new.txt", "new");
  REQUIRE(chmod((f.w / "locked").c_str(), 0555) == 0);
  put(f.w / "new/deep/file.txt", "created since");
  REQUIRE(chmod(f.w.c_str(), 0755) == 0);
  REQUIRE(describe(f.w) != before);

  auto r = f.store.restore(info.id);
  CHECK(describe(f.w) == before);
  CHECK(r.id == info.id);
  // empty-dir (a file now), pipe/sub + pipe, dangling (a file now), locked/new.txt, new/deep/file.txt + new/deep + new
  CHECK(r.removed == 8);
  // main.py, secret.txt, empty.txt, big.bin, empty-dir, pipe, link-to-main, dangling
  CHECK(r.written == 8);
  CHECK(r.unchanged == 3);  // run.sh (its mode put back), locked/inside.txt, absolute
}

TEST_CASE("restore rewrites only what differs and keeps unchanged files' inodes") {
  Fixture f;
  for (int i = 0; i < 20; ++i) put(f.w / ("f" + std::to_string(i) + ".txt"), "content " + std::to_string(i));
  auto info = f.store.create("");
  const ino_t untouched = inode_of(f.w / "f3.txt");
  put(f.w / "f7.txt", "edited");
  auto r = f.store.restore(info.id);
  CHECK(r.written == 1);
  CHECK(r.removed == 0);
  CHECK(r.unchanged == 19);
  CHECK(inode_of(f.w / "f3.txt") == untouched);
  CHECK(testing::read_file((f.w / "f7.txt").string()) == "content 7");

  // A second restore finds nothing to do, including the file it just wrote.
  r = f.store.restore(info.id);
  CHECK(r.written == 0);
  CHECK(r.unchanged == 20);
}

TEST_CASE("an edit that keeps size and mtime is still undone (ctime gives it away)") {
  Fixture f;
  put(f.w / "a.txt", "original");
  struct stat before;
  REQUIRE(stat((f.w / "a.txt").c_str(), &before) == 0);
  auto info = f.store.create("");
  put(f.w / "a.txt", "ORIGINAL");
  timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(utimensat(AT_FDCWD, (f.w / "a.txt").c_str(), times, 0) == 0);
  auto r = f.store.restore(info.id);
  CHECK(r.written == 1);
  CHECK(testing::read_file((f.w / "a.txt").string()) == "original");
}

TEST_CASE("a hard-linked file is replaced, not written through its other name") {
  Fixture f;
  put(f.w / "a.txt", "aaa");
  put(f.w / "b.txt", "bbb");
  auto info = f.store.create("");
  fs::remove(f.w / "b.txt");
  fs::create_hard_link(f.w / "a.txt", f.w / "b.txt");
  put(f.w / "a.txt", "xyz");  // both names now say xyz
  f.store.restore(info.id);
  CHECK(testing::read_file((f.w / "a.txt").string()) == "aaa");
  CHECK(testing::read_file((f.w / "b.txt").string()) == "bbb");
}

TEST_CASE("the space cap refuses a checkpoint and leaves nothing behind") {
  Fixture f(100);
  put(f.w / "small.txt", std::string(60, 'a'));
  auto first = f.store.create("first");
  CHECK(first.bytes == 60);
  put(f.w / "more.txt", std::string(50, 'b'));
  CHECK_THROWS_WITH_AS(f.store.create("second"),
                       "checkpoint: the workdir holds 110 bytes of file data but only 40 of the 100-byte checkpoint "
                       "cap are free (1 checkpoint(s) use 60); delete some (DELETE /checkpoints/{id}) or raise "
                       "--checkpoint-max-bytes",
                       StorageFull);
  auto list = f.store.list();
  REQUIRE(list.checkpoints.size() == 1);
  CHECK(list.used_bytes == 60);
  CHECK(list.max_bytes == 100);
  std::vector<std::string> on_disk;
  for (const auto& e : fs::directory_iterator(f.store.root())) on_disk.push_back(e.path().filename().string());
  CHECK(on_disk == std::vector<std::string>{first.id});  // no .tmp- leftover

  // Deleting frees the space.
  CHECK(f.store.remove("first").freed_bytes == 60);
  fs::remove(f.w / "small.txt");
  CHECK(f.store.create("second").bytes == 50);
  CHECK(!fs::exists(f.store.root() + "/" + first.id));
}

TEST_CASE("unknown ids and names are not found; names are unique and usable as references") {
  Fixture f;
  put(f.w / "a.txt", "a");
  CHECK_THROWS_WITH_AS(f.store.restore("0badc0de"),
                       "checkpoint \"0badc0de\": no checkpoint has this id or name (GET /checkpoints lists them)", Error);
  CHECK_THROWS_WITH_AS(f.store.remove("nope"),
                       "checkpoint \"nope\": no checkpoint has this id or name (GET /checkpoints lists them)", Error);
  auto info = f.store.create("step-1");
  CHECK(info.name == "step-1");
  CHECK_THROWS_WITH_AS(f.store.create("step-1"),
                       ("name: checkpoint \"step-1\" already exists (id " + info.id +
                        "); delete it or choose another name").c_str(),
                       Error);
  put(f.w / "a.txt", "b");
  CHECK(f.store.restore("step-1").id == info.id);
  CHECK(testing::read_file((f.w / "a.txt").string()) == "a");
  CHECK(f.store.get(info.id).name == "step-1");
}

TEST_CASE("a checkpoint root inside the workdir is neither snapshotted nor removed by a restore") {
  TempDir work;
  const fs::path w = work.path;
  CheckpointStore store(CheckpointStoreOptions{work.path, work.path + "/.checkpoints", kDefaultCheckpointMaxBytes});
  put(w / "a.txt", "a");
  auto info = store.create("");
  CHECK(info.files == 1);
  CHECK(info.directories == 0);
  put(w / "b.txt", "b");
  auto r = store.restore(info.id);
  CHECK(r.removed == 1);
  CHECK(fs::exists(w / ".checkpoints" / info.id / "manifest"));
}

TEST_CASE("checkpoints in a given root outlive their store; a private root goes with it") {
  TempDir work, ckpts;
  put(fs::path(work.path) / "a.txt", "kept");
  std::string id;
  {
    CheckpointStore s(CheckpointStoreOptions{work.path, ckpts.path, kDefaultCheckpointMaxBytes});
    id = s.create("keep").id;
  }
  put(fs::path(work.path) / "a.txt", "changed");
  {
    CheckpointStore s(CheckpointStoreOptions{work.path, ckpts.path, kDefaultCheckpointMaxBytes});
    REQUIRE(s.list().checkpoints.size() == 1);
    s.restore("keep");
  }
  CHECK(testing::read_file(work.path + "/a.txt") == "kept");

  std::string private_root;
  {
    CheckpointStore s(CheckpointStoreOptions{work.path, "", kDefaultCheckpointMaxBytes});
    CHECK(s.root().empty());  // made on first use only
    s.create("");
    private_root = s.root();
    CHECK(fs::exists(private_root));
    CHECK(private_root.find(work.path) == std::string::npos);
  }
  CHECK(!fs::exists(private_root));
}

TEST_CASE("the manifest keeps paths byte for byte, newlines and spaces included") {
  Manifest m;
  m.id = "0123abcd";
  m.created_at = "2026-12-02T15:00:00.000Z";
  m.taken_at = {1700000000, 5};
  m.files = 2;
  ManifestEntry root;
  root.kind = EntryKind::dir;
  root.mode = 0755;
  ManifestEntry file;
  file.path = "odd\nname with spaces\xff";
  file.mode = 04755;
  file.size = 3;
  file.offset = 4096;
  file.mtime = {1600000000, 123456789};
  file.ctime = {1600000001, 1};
  file.ino = 42;
  ManifestEntry link;
  link.kind = EntryKind::symlink;
  link.path = "l";
  link.target = "../x\ny";
  m.entries = {root, file, link};
  Manifest back = decode_manifest(encode_manifest(m), "test");
  REQUIRE(back.entries.size() == 3);
  CHECK(back.id == m.id);
  CHECK(back.name.empty());
  CHECK(back.entries[1].path == file.path);
  CHECK(back.entries[1].mode == 04755);
  CHECK(back.entries[1].offset == 4096);
  CHECK(back.entries[1].mtime.tv_nsec == 123456789);
  CHECK(back.entries[1].trusted);  // ctime before taken_at
  CHECK(back.entries[2].target == "../x\ny");
  CHECK_THROWS_AS(decode_manifest("arl-checkpoint 1\nid x\n", "test"), Error);
}
