#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "k8s/sidecar_client.h"
#include "sidecar/gzip_stream.h"
#include "sidecar/tar_format.h"
#include "sidecar_test_util.h"
#include "tree_util.h"

using namespace arl;
using namespace arl::sidecar;
using arl::sidecar::testing::RunningServer;
using arl::sidecar::testing::gzip;
using arl::sidecar::testing::put;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::string kSourceToken = "source-token-0123456789abcdef";

json body_of(const httplib::Result& r, int status = 200) {
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == status);
  return json::parse(r->body);
}

std::string checkpoint(httplib::Client& c, const std::string& body = "{}") {
  return body_of(c.Post("/checkpoints", body, "application/json"))["id"].get<std::string>();
}

}  // namespace

TEST_CASE("GET /checkpoints/{ref}/archive streams gzip that POST /checkpoints/import turns into a checkpoint") {
  RunningServer a, b;
  httplib::Client ca(a.address()), cb(b.address());
  put(fs::path(a.dir.path) / "src/app.py", "print('a')\n");
  put(fs::path(a.dir.path) / "empty.txt", "");
  fs::create_directories(fs::path(a.dir.path) / "empty-dir");
  const std::string id = checkpoint(ca, R"({"name":"base"})");

  auto archive = ca.Get("/checkpoints/base/archive");
  REQUIRE(archive);
  CHECK(archive->status == 200);
  CHECK(archive->get_header_value("Content-Type") == "application/gzip");
  CHECK(archive->get_header_value("Transfer-Encoding") == "chunked");  // streamed, not buffered

  put(fs::path(b.dir.path) / "old.txt", "replaced by the import");
  auto imported = body_of(cb.Post("/checkpoints/import?name=copy&restore=1", archive->body, "application/gzip"));
  CHECK(imported["name"] == "copy");
  CHECK(imported["files"] == 2);
  CHECK(imported["directories"] == 2);
  CHECK(imported["bytes"] == 11);
  CHECK(imported["restored"]["id"] == imported["id"]);
  CHECK(imported["restored"]["removed"] == 1);
  CHECK(testing::read_file(b.dir.path + "/src/app.py") == "print('a')\n");
  CHECK(fs::is_directory(fs::path(b.dir.path) / "empty-dir"));
  CHECK(!fs::exists(fs::path(b.dir.path) / "old.txt"));
  CHECK(body_of(cb.Get("/checkpoints"))["checkpoints"].size() == 1);
  CHECK(id.size() == 8);

  // ?level=0: gzip framing, no deflate work.
  put(fs::path(a.dir.path) / "big.txt", std::string(64 * 1024, 'x'));
  checkpoint(ca, R"({"name":"big"})");
  auto stored = ca.Get("/checkpoints/big/archive?level=0");
  auto deflated = ca.Get("/checkpoints/big/archive");
  REQUIRE(stored);
  REQUIRE(deflated);
  CHECK(stored->status == 200);
  CHECK(stored->body.size() > 64 * 1024);
  CHECK(deflated->body.size() < 8 * 1024);
  CHECK(body_of(cb.Post("/checkpoints/import", stored->body, "application/gzip"))["bytes"] == 64 * 1024 + 11);
  auto bad_level = ca.Get("/checkpoints/big/archive?level=fast");
  REQUIRE(bad_level);
  CHECK(bad_level->status == 400);
  CHECK(json::parse(bad_level->body)["error"].get<std::string>().find("level") != std::string::npos);

  // ?format=tar (what a peer import asks for): a plain tar, no gzip at all.
  auto plain = ca.Get("/checkpoints/big/archive?format=tar");
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(plain->get_header_value("Content-Type") == "application/x-tar");
  CHECK(plain->body.size() % 512 == 0);
  CHECK(body_of(cb.Post("/checkpoints/import", plain->body, "application/x-tar"))["bytes"] == 64 * 1024 + 11);
  auto bad_format = ca.Get("/checkpoints/big/archive?format=zip");
  REQUIRE(bad_format);
  CHECK(bad_format->status == 400);
  CHECK(json::parse(bad_format->body)["error"] == "format: \"zip\" is not an archive format; use tar.gz (the default) or tar");
  auto tar_level = ca.Get("/checkpoints/big/archive?format=tar&level=1");
  REQUIRE(tar_level);
  CHECK(tar_level->status == 400);
  CHECK(json::parse(tar_level->body)["error"] == "level: only a tar.gz archive is compressed; leave level out with format=tar");

  auto missing = ca.Get("/checkpoints/0badc0de/archive");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(json::parse(missing->body)["error"] ==
        "checkpoint \"0badc0de\": no checkpoint has this id or name (GET /checkpoints lists them)");
}

TEST_CASE("POST /checkpoints/import with a source_url fetches the archive from the other sidecar") {
  RunningServer src(kSourceToken);
  RunningServer dst;
  httplib::Client cs(src.address()), cd(dst.address());
  cs.set_default_headers({{"Authorization", "Bearer " + kSourceToken}});
  put(fs::path(src.dir.path) / "work/notes.md", "# notes\n");
  const std::string id = checkpoint(cs);

  json req{{"source_url", "http://" + src.address()}, {"checkpoint", id}, {"token", kSourceToken}, {"restore", true}};
  auto r = body_of(cd.Post("/checkpoints/import", req.dump(), "application/json"));
  CHECK(r["files"] == 1);
  CHECK(r["restored"]["written"] == 2);  // work/ and work/notes.md
  CHECK(testing::read_file(dst.dir.path + "/work/notes.md") == "# notes\n");

  SUBCASE("a wrong token is the source's 401, answered 502, the token never echoed") {
    req["token"] = "wrong-token-0123456789abcdef";
    auto bad = body_of(cd.Post("/checkpoints/import", req.dump(), "application/json"), 502);
    CHECK(bad["error"] == "source http://" + src.address() + "/checkpoints/" + id +
                              "/archive answered 401: token: wrong token");
    CHECK(bad.dump().find("wrong-token") == std::string::npos);
  }
  SUBCASE("an unknown checkpoint is the source's 404, answered 502") {
    req["checkpoint"] = "nope";
    auto bad = body_of(cd.Post("/checkpoints/import", req.dump(), "application/json"), 502);
    CHECK(bad["error"] == "source http://" + src.address() +
                              "/checkpoints/nope/archive answered 404: checkpoint \"nope\": no checkpoint has this id "
                              "or name (GET /checkpoints lists them)");
  }
  SUBCASE("an unreachable source is 502 naming the URL") {
    req["source_url"] = "http://127.0.0.1:1";
    auto bad = body_of(cd.Post("/checkpoints/import", req.dump(), "application/json"), 502);
    CHECK(bad["error"] == "source http://127.0.0.1:1/checkpoints/" + id +
                              "/archive: cannot connect (connect timeout 2 s, read timeout 30 s)");
  }
  SUBCASE("a malformed request is 400 naming the fields") {
    auto bad = body_of(cd.Post("/checkpoints/import", R"({"source_url":"ftp://x","checkpoint":"../x"})", "application/json"), 400);
    CHECK(bad["error"] ==
          "source_url: must be http://HOST:PORT of the source sidecar; checkpoint: must be the id or name of a checkpoint "
          "of the source (A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit)");
  }
  // Only the first import was kept.
  CHECK(body_of(cd.Get("/checkpoints"))["checkpoints"].size() == 1);
}

TEST_CASE("a hostile or unreadable upload is 400 naming the entry and leaves no checkpoint") {
  RunningServer s;
  httplib::Client c(s.address());
  std::string tar;
  tar::Entry e;
  e.type = tar::kSymlink;
  e.path = "escape";
  e.linkpath = "../../etc";
  tar::write_header(tar, e);
  tar += tar::end_of_archive();
  auto bad = body_of(c.Post("/checkpoints/import", gzip(tar), "application/gzip"), 400);
  CHECK(bad["error"] == "archive entry \"escape\": symlink target \"../../etc\" leads outside the workdir");
  auto plain = body_of(c.Post("/checkpoints/import", tar, "application/x-tar"), 400);
  CHECK(plain["error"] == bad["error"]);
  auto type = body_of(c.Post("/checkpoints/import", "x", "text/plain"), 400);
  CHECK(type["error"] ==
        "Content-Type: \"text/plain\" is not accepted; send the archive as application/gzip (or application/x-tar), or "
        "application/json naming a source_url");
  auto name = body_of(c.Post("/checkpoints/import?name=../x", gzip(std::string(tar::end_of_archive())), "application/gzip"), 400);
  CHECK(name["error"] == "name: must be 1-63 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit");
  CHECK(body_of(c.Get("/checkpoints"))["checkpoints"].empty());
  CHECK(fs::is_empty(s.server->checkpoints().root()));
  // The connection is still usable after a refused body.
  CHECK(body_of(c.Get("/health"))["status"] == "ok");
}

TEST_CASE("an import over the space cap is 507 and nothing is kept") {
  RunningServer a;
  RunningServer b("", 1 << 20, [](ServerOptions& o) { o.checkpoint_max_bytes = 100; });
  httplib::Client ca(a.address()), cb(b.address());
  put(fs::path(a.dir.path) / "x.bin", std::string(60, 'x'));
  put(fs::path(b.dir.path) / "y.bin", std::string(60, 'y'));
  checkpoint(cb);
  auto archive = ca.Get("/checkpoints/" + checkpoint(ca) + "/archive");
  REQUIRE(archive);
  auto full = body_of(cb.Post("/checkpoints/import", archive->body, "application/gzip"), 507);
  CHECK(full["error"] ==
        "import: archive entry \"x.bin\" brings its file data to 60 bytes but only 40 of the 100-byte checkpoint cap are "
        "free; delete some checkpoints (DELETE /checkpoints/{id})");
  CHECK(body_of(cb.Get("/checkpoints"))["checkpoints"].size() == 1);
}

TEST_CASE("keep: false writes the source's checkpoint straight into an empty workdir and stores none") {
  RunningServer src(kSourceToken);
  RunningServer dst;
  httplib::Client cs(src.address()), cd(dst.address());
  cs.set_default_headers({{"Authorization", "Bearer " + kSourceToken}});
  put(fs::path(src.dir.path) / "work/notes.md", "# notes\n", 0600);
  put(fs::path(src.dir.path) / "bin/run.sh", "#!/bin/sh\n", 0755);
  put(fs::path(src.dir.path) / "empty.txt", "");
  fs::create_directories(fs::path(src.dir.path) / "empty-dir");
  fs::create_symlink("work/notes.md", fs::path(src.dir.path) / "link");
  REQUIRE(chmod((fs::path(src.dir.path) / "work").c_str(), 0750) == 0);
  const std::string id = checkpoint(cs);

  json req{{"source_url", "http://" + src.address()}, {"checkpoint", id}, {"token", kSourceToken}, {"restore", true},
           {"keep", false}};
  auto r = body_of(cd.Post("/checkpoints/import", req.dump(), "application/json"));
  CHECK(r["files"] == 4);  // 3 files and the link
  CHECK(r["directories"] == 3);
  CHECK(r["bytes"] == 18);
  CHECK(r["id"] == "");
  CHECK(r["restored"]["written"] == 7);
  CHECK(testing::describe(dst.dir.path) == testing::describe(src.dir.path));
  CHECK(body_of(cd.Get("/checkpoints"))["checkpoints"].empty());

  SUBCASE("a workdir that holds anything is 409 naming it, and is left alone") {
    RunningServer used;
    put(fs::path(used.dir.path) / "mine.txt", "keep me");
    httplib::Client cu(used.address());
    auto bad = body_of(cu.Post("/checkpoints/import", req.dump(), "application/json"), 409);
    CHECK(bad["error"] == "keep: false imports into an empty workdir only, and " + used.dir.path +
                              " holds \"mine.txt\"; import with keep: true (the default) to restore over it");
    CHECK(testing::describe(used.dir.path) == std::map<std::string, std::string>{{".", testing::describe(used.dir.path)["."]},
                                                                                 {"mine.txt", "file 420 keep me"}});
  }
  SUBCASE("directories alone, like the workingDir a bind makes before a fork's import, do not count") {
    RunningServer bound(testing::kPoolToken);
    k8s::SidecarClient(bound.address(), testing::kPoolToken).bind({testing::kSandboxToken}, {{}, "work/sub"});
    httplib::Client cb(bound.address());
    cb.set_default_headers({{"X-Arl-Token", testing::kSandboxToken}});
    body_of(cb.Post("/checkpoints/import", req.dump(), "application/json"));
    auto want = testing::describe(src.dir.path);
    want["work/sub"] = "dir 493";  // the bind's, left in place
    CHECK(testing::describe(bound.dir.path) == want);
  }
  SUBCASE("keep: false needs restore: true, and takes no name") {
    RunningServer other;
    httplib::Client co(other.address());
    json no_restore = req;
    no_restore.erase("restore");
    no_restore["name"] = "x";
    auto bad = body_of(co.Post("/checkpoints/import", no_restore.dump(), "application/json"), 400);
    CHECK(bad["error"] ==
          "keep: false writes the archive straight into the workdir, which is a restore: set restore: true as well; "
          "name: a checkpoint imported with keep: false is not stored, so it takes no name");
  }
}

TEST_CASE("keep: false refuses a hostile archive before any symlink of it exists") {
  // A source that serves a crafted plain tar: a directory entry "a", a file
  // under it, and a symlink whose target leads out.
  std::string tar;
  tar::Entry d;
  d.type = tar::kDirectory;
  d.path = "a/";
  d.mode = 0755;
  tar::write_header(tar, d);
  tar::Entry f;
  f.type = tar::kFile;
  f.path = "a/f.txt";
  f.mode = 0644;
  f.size = 2;
  tar::write_header(tar, f);
  tar += std::string("hi") + std::string(tar::padding(2), '\0');
  tar::Entry l;
  l.type = tar::kSymlink;
  l.path = "a/out";
  l.linkpath = "../../etc";
  tar::write_header(tar, l);
  tar += tar::end_of_archive();
  httplib::Server fake;
  fake.Get(R"(/checkpoints/([^/]+)/archive)", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(tar, "application/x-tar");
  });
  const int port = fake.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { fake.listen_after_bind(); });

  RunningServer dst;
  httplib::Client cd(dst.address());
  json req{{"source_url", "http://127.0.0.1:" + std::to_string(port)}, {"checkpoint", "x"}, {"token", ""},
           {"restore", true}, {"keep", false}};
  auto bad = body_of(cd.Post("/checkpoints/import", req.dump(), "application/json"), 400);
  CHECK(bad["error"] == "archive entry \"a/out\": symlink target \"../../etc\" leads outside the workdir");
  CHECK_FALSE(fs::exists(fs::symlink_status(fs::path(dst.dir.path) / "a/out")));
  fake.stop();
  serving.join();
}
