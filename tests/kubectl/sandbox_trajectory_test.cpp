// The pure parts of `sandbox history` and `sandbox replay`: the table, the
// trajectory file's parsing and the comparison of an execute's outcome.
#include <doctest/doctest.h>

#include "core/error.h"
#include "kubectl/sandbox_trajectory.h"

using namespace arl;
using namespace arl::kubectl;
using nlohmann::json;

TEST_CASE("the history table has one row per line, summary last, <none> where a kind has no value") {
  std::vector<json> lines = {
      json::parse(R"({"seq":1,"time":"2026-01-02T03:04:05.678Z","kind":"file_write","path":"app.py","bytes":9,"duration_ms":0.4})"),
      json::parse(R"({"seq":2,"time":"2026-01-02T03:04:06.000Z","kind":"execute","command":["sh","-c","python app.py\nexit 2"],
                     "exit_code":2,"usage":{"wall_ms":120.4,"cpu_user_ms":80.2,"cpu_system_ms":10.1,"max_rss_kb":9000},"duration_ms":120.4})"),
      json::parse(R"({"seq":3,"time":"2026-01-02T03:04:07.000Z","kind":"execute","command":["sleep","60"],"background":true,"pid":42,"duration_ms":1})"),
      json::parse(R"({"seq":4,"time":"2026-01-02T03:04:08.000Z","kind":"signal","pid":42,"signal":"SIGTERM","error":"pid 42: gone","duration_ms":0.1})"),
      json::parse(R"({"seq":5,"time":"2026-01-02T03:04:09.000Z","kind":"trajectory_full","max_bytes":100,"message":"cap"})"),
  };
  CHECK(history_table(lines, false) ==
        "SEQ   TIME                       KIND              EXIT         WALL_MS   CPU_MS   SUMMARY\n"
        "1     2026-01-02T03:04:05.678Z   file_write        <none>       0         <none>   app.py (9 bytes)\n"
        "2     2026-01-02T03:04:06.000Z   execute           2            120       90       sh -c python app.py exit 2\n"
        "3     2026-01-02T03:04:07.000Z   execute           background   1         <none>   sleep 60\n"
        "4     2026-01-02T03:04:08.000Z   signal            error        0         <none>   SIGTERM pid 42\n"
        "5     2026-01-02T03:04:09.000Z   trajectory_full   <none>       <none>    <none>   cap\n");
  CHECK(history_table({lines[0]}, true) == "1   2026-01-02T03:04:05.678Z   file_write   <none>   0   <none>   app.py (9 bytes)\n");
}

TEST_CASE("a trajectory file is JSON lines with seq and kind; a bad line is named by its number") {
  auto lines = parse_trajectory("{\"seq\":1,\"kind\":\"reset\"}\n\n{\"seq\":2,\"kind\":\"execute\"}\n", "ep.jsonl");
  REQUIRE(lines.size() == 2);
  CHECK(lines[1]["kind"] == "execute");
  CHECK_THROWS_WITH_AS(parse_trajectory("{\"seq\":1,\"kind\":\"reset\"}\n{\"kind\":\"reset\"}\n", "ep.jsonl"),
                       "ep.jsonl: line 2: not a trajectory line (a JSON object with seq and kind, as `kubectl arl "
                       "sandbox history -o jsonl` prints)",
                       Error);
}

TEST_CASE("an execute agrees when exit code, timeout and both output hashes do") {
  const json recorded = {{"exit_code", 0}, {"stdout_sha256", sha256_hex("hi\n")}, {"stdout_bytes", 3},
                         {"stderr_sha256", sha256_hex("")}, {"stderr_bytes", 0}};
  core::ExecuteResponse same;
  same.stdout_data = "hi\n";
  CHECK(compare_execute(recorded, same).empty());

  core::ExecuteResponse other;
  other.exit_code = 1;
  other.stdout_data = "ho\n";
  auto diffs = compare_execute(recorded, other);
  REQUIRE(diffs.size() == 2);
  CHECK(diffs[0] == "exit_code: expected 0, got 1");
  CHECK(diffs[1] == "stdout_sha256: expected " + sha256_hex("hi\n") + " (3 bytes), got " + sha256_hex("ho\n") + " (3 bytes)");

  // Output the recording sidecar could not keep whole is not compared.
  json incomplete = recorded;
  incomplete["stdout_incomplete"] = true;
  core::ExecuteResponse longer;
  longer.stdout_data = "much more\n";
  CHECK(compare_execute(incomplete, longer).empty());
}

TEST_CASE("sha256 of known inputs") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
