// The trajectory recorder without a server: line format, caps, hashes,
// env names only, redaction, the size cap, and a restarted sidecar's file.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "sidecar/trajectory_lines.h"
#include "sidecar/trajectory_recorder.h"
#include "sidecar_test_util.h"

using namespace arl;
using namespace arl::sidecar;
using arl::sidecar::testing::TempDir;
using nlohmann::json;

namespace {

std::vector<json> lines_of(const std::string& path) {
  std::vector<json> out;
  std::ifstream f(path);
  for (std::string l; std::getline(f, l);) out.push_back(json::parse(l));
  return out;
}

}  // namespace

TEST_CASE("sha256 of known inputs") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("an output digest keeps the head, and hashes and counts all of it") {
  OutputDigest d(4);
  d.add("ab");
  d.add("cdef");
  auto r = d.finish();
  CHECK(r.head == "abcd");
  CHECK(r.size == 6);
  CHECK(r.truncated);
  CHECK(r.sha256 == sha256_hex("abcdef"));
  OutputDigest utf8(4);
  utf8.add("abc\xc3\xa9");  // é would be cut in half at 4 bytes
  CHECK(utf8.finish().head == "abc");
}

TEST_CASE("an execute line has the request with env names only and the capped output with full hashes") {
  core::ExecuteRequest req;
  req.command = {"sh", "-c", "echo hi"};
  req.working_dir = "src";
  req.env = {{"TOKEN", "hunter2-value"}, {"DEBUG", "1"}};
  core::ExecuteResponse r;
  r.exit_code = 3;
  r.usage = core::Usage{12.5, 3, 1, 2048};
  const std::string big(5000, 'x');
  OutputDigest out(kTrajectoryOutputCap), err(kTrajectoryOutputCap);
  out.add(big);
  err.add("oops hunter2-value\n");
  auto line = json::parse(execute_line(req, r, out.finish(), err.finish(), Redactor()).dump());
  CHECK(line["kind"] == "execute");
  CHECK(line["command"] == json({"sh", "-c", "echo hi"}));
  CHECK(line["working_dir"] == "src");
  CHECK(line["env_names"] == json({"DEBUG", "TOKEN"}));
  CHECK(line["timeout_seconds"] == 30.0);
  CHECK(line["exit_code"] == 3);
  CHECK(line["stdout"] == std::string(kTrajectoryOutputCap, 'x'));
  CHECK(line["stdout_bytes"] == 5000);
  CHECK(line["stdout_sha256"] == sha256_hex(big));
  CHECK(line["stdout_truncated"] == true);
  CHECK(line["stderr"] == "oops [redacted TOKEN]\n");  // the request's own env value
  CHECK(line["stderr_sha256"] == sha256_hex("oops hunter2-value\n"));
  CHECK(line["usage"]["cpu_user_ms"] == 3.0);
  CHECK(line["usage"]["max_rss_kb"] == 2048);
  CHECK(line.dump().find("hunter2") == std::string::npos);
  CHECK(!line.contains("stderr_truncated"));
}

TEST_CASE("a background execute line has its pid and no exit code") {
  core::ExecuteRequest req;
  req.command = {"sleep", "9"};
  req.background = true;
  core::ExecuteResponse r;
  r.done = false;
  r.pid = 77;
  auto line = json::parse(execute_line(req, r, OutputDigest(1).finish(), OutputDigest(1).finish(), Redactor()).dump());
  CHECK(line["background"] == true);
  CHECK(line["pid"] == 77);
  CHECK(!line.contains("exit_code"));
}

TEST_CASE("the redactor replaces bound values, drops a cut value's beginning and ignores short values") {
  Redactor r(std::map<std::string, std::string>{{"API_KEY", "s3cret-value"}, {"SEED", "42"}});
  CHECK(r.apply("key=s3cret-value seed=42", false) == "key=[redacted API_KEY] seed=42");
  CHECK(r.apply("tail s3cr", true) == "tail ");  // the output goes on past the cut
  CHECK(r.apply("tail s3cr", false) == "tail s3cr");
  CHECK(r.contains_value("xx s3cret-value"));
  CHECK(!r.contains_value("42"));
}

TEST_CASE("a file write line has path, mode, size, sha256 and small contents inline") {
  core::FileWriteRequest req{"app/main.py", "cHJpbnQoMSkK", 0600, "base64"};
  core::FileWriteResponse resp{"/workspace/app/main.py", 9};
  auto line = json::parse(file_write_line(req, &resp, Redactor()).dump());
  CHECK(line == json::parse(R"({"kind":"file_write","path":"app/main.py","resolved_path":"/workspace/app/main.py",
      "mode":"0600","bytes":9,"sha256":")" + sha256_hex("print(1)\n") + R"(","content_base64":"cHJpbnQoMSkK"})"));

  core::FileWriteRequest big{"big.bin", std::string(kTrajectoryInlineFileMax + 1, 'a'), std::nullopt, ""};
  auto bl = json::parse(file_write_line(big, nullptr, Redactor()).dump());
  CHECK(bl["bytes"] == kTrajectoryInlineFileMax + 1);
  CHECK(!bl.contains("content_base64"));
  CHECK(bl["content_omitted"] == "larger than 65536 bytes");
  CHECK(!bl.contains("mode"));

  core::FileWriteRequest secret{"k", "key=s3cret-value", std::nullopt, ""};
  auto sl = json::parse(file_write_line(secret, nullptr, Redactor(std::map<std::string, std::string>{{"API_KEY", "s3cret-value"}})).dump());
  CHECK(sl["content_omitted"] == "contains a value of the sandbox's env");
  CHECK(sl.dump().find("s3cret") == std::string::npos);
}

TEST_CASE("the recorder numbers lines, records a refused operation with its error and rethrows it") {
  TempDir dir;
  TrajectoryRecorder rec(TrajectoryOptions{dir.path, kDefaultTrajectoryMaxBytes});
  rec.reset(true, [] { return core::ResetResponse{true, "", 2}; });
  CHECK_THROWS_WITH_AS(rec.signal(5, "SIGTERM",
                                  []() -> core::SignalResponse { throw Error(ErrorCode::not_found, "pid 5: not started by the sidecar"); }),
                       "pid 5: not started by the sidecar", Error);
  auto lines = lines_of(dir.path + "/trajectory.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["seq"] == 1);
  CHECK(lines[0]["kind"] == "reset");
  CHECK(lines[0]["killed"] == 2);
  CHECK(lines[0]["time"].get<std::string>().size() == 24);  // 2026-01-02T03:04:05.678Z
  CHECK(lines[0]["duration_ms"].is_number());
  CHECK(lines[1]["seq"] == 2);
  CHECK(lines[1]["kind"] == "signal");
  CHECK(lines[1]["error"] == "pid 5: not started by the sidecar");
}

TEST_CASE("at the size cap one trajectory_full line ends the file and recording stops") {
  TempDir dir;
  TrajectoryRecorder rec(TrajectoryOptions{dir.path, 1500});
  for (int i = 0; i < 20; ++i) rec.reset(false, [] { return core::ResetResponse{}; });
  auto lines = lines_of(dir.path + "/trajectory.jsonl");
  REQUIRE(lines.size() >= 2);
  CHECK(lines.back()["kind"] == "trajectory_full");
  CHECK(lines.back()["seq"] == lines.size());
  CHECK(lines.back()["max_bytes"] == 1500);
  CHECK(std::filesystem::file_size(dir.path + "/trajectory.jsonl") <= 1500);
  CHECK(rec.trajectory().full());
  CHECK(lines[lines.size() - 2]["kind"] == "reset");
}

TEST_CASE("a kept directory is continued by the next sidecar, and a torn last line is cut off") {
  TempDir dir;
  {
    Trajectory t(TrajectoryOptions{dir.path, kDefaultTrajectoryMaxBytes});
    t.record(line_of(TrajectoryKind::reset), "2026-01-01T00:00:00.000Z");
    t.record(line_of(TrajectoryKind::reset), "2026-01-01T00:00:01.000Z");
  }
  std::ofstream(dir.path + "/trajectory.jsonl", std::ios::app) << R"({"seq":3,"ti)";
  Trajectory t(TrajectoryOptions{dir.path, kDefaultTrajectoryMaxBytes});
  t.record(line_of(TrajectoryKind::signal), "2026-01-01T00:00:02.000Z");
  auto lines = lines_of(dir.path + "/trajectory.jsonl");
  REQUIRE(lines.size() == 3);
  CHECK(lines[2]["seq"] == 3);
  CHECK(lines[2]["kind"] == "signal");
  auto r = t.after(1, 10, 1 << 20);
  CHECK(r.first_seq == 2);
  CHECK(r.lines == 2);
  CHECK(t.after(3, 10, 1 << 20).lines == 0);
  CHECK(t.after(0, 1, 1 << 20).lines == 1);
  CHECK(t.after(0, 10, 1).lines == 1);  // a page holds at least one line
}

TEST_CASE("a private trajectory is an unlinked file: readable while the recorder lives, nothing left behind") {
  TempDir tmp;
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  setenv("TMPDIR", tmp.path.c_str(), 1);
  Trajectory t(TrajectoryOptions{});
  t.record(line_of(TrajectoryKind::reset), "2026-01-01T00:00:00.000Z");
  if (old) setenv("TMPDIR", saved.c_str(), 1);
  else unsetenv("TMPDIR");
  CHECK(t.path().empty());
  CHECK(std::filesystem::is_empty(tmp.path));  // even a killed sidecar leaves no file
  auto r = t.after(0, 10, 1 << 20);
  REQUIRE(r.lines == 1);
  std::string text(r.end - r.begin, '\0');
  CHECK(::pread(r.fd, text.data(), text.size(), static_cast<off_t>(r.begin)) == static_cast<ssize_t>(text.size()));
  ::close(r.fd);
  CHECK(json::parse(text)["kind"] == "reset");
}
