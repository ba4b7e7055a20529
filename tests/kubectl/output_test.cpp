#include <doctest/doctest.h>

#include "kubectl/output.h"
#include "core/error.h"
#include "core/types.h"

using namespace arl::kubectl;
using nlohmann::json;

namespace {

// 2024-01-01T00:00:00Z
constexpr std::time_t kEpoch = 1704067200;

json pool(const std::string& name, const std::string& ns, int ready, int allocated, int desired,
          const std::string& created) {
  return {{"metadata", {{"name", name}, {"namespace", ns}, {"creationTimestamp", created}}},
          {"spec",
           {{"replicas", desired},
            {"template", {{"spec", {{"containers", json::array({{{"name", "main"}, {"image", "python:3.12"}}})}}}}}}},
          {"status", {{"readyReplicas", ready}, {"allocatedReplicas", allocated}, {"phase", "Ready"}}}};
}

}  // namespace

TEST_CASE("tables are aligned with three spaces between columns and no trailing blanks") {
  auto text = render_table({{"NAME", "READY", "AGE"}, {"a-long-name", "1", "5s"}, {"b", "10", "3m"}});
  CHECK(text ==
        "NAME          READY   AGE\n"
        "a-long-name   1       5s\n"
        "b             10      3m\n");
}

TEST_CASE("ages are relative to now, as kubectl prints them") {
  CHECK(age_of("2024-01-01T00:00:00Z", kEpoch + 5) == "5s");
  CHECK(age_of("2024-01-01T00:00:00Z", kEpoch + 3 * 60 + 10) == "3m10s");
  CHECK(age_of("2024-01-01T00:00:00Z", kEpoch + 45 * 60) == "45m");
  CHECK(age_of("2024-01-01T00:00:00Z", kEpoch + 10 * 3600) == "10h");
  CHECK(age_of("2024-01-01T00:00:00Z", kEpoch + 3 * 86400) == "3d");
  CHECK(age_of("", kEpoch) == "<unknown>");
  CHECK(age_of("yesterday", kEpoch) == "<unknown>");
}

TEST_CASE("output formats parse; unknown ones are usage errors naming the choices") {
  CHECK(parse_output_format("") == OutputFormat::table);
  CHECK(parse_output_format("wide") == OutputFormat::wide);
  CHECK(parse_output_format("json") == OutputFormat::json);
  CHECK(parse_output_format("yaml") == OutputFormat::yaml);
  CHECK(parse_output_format("name") == OutputFormat::name);
  try {
    parse_output_format("xml");
    FAIL("xml accepted");
  } catch (const arl::Error& e) {
    CHECK(e.code() == arl::ErrorCode::usage);
    CHECK(std::string(e.what()).find("json, name, table, wide, yaml") != std::string::npos);
  }
}

TEST_CASE("pool table: columns, wide, all namespaces, no headers") {
  std::vector<json> items{pool("py", "team-a", 3, 1, 3, "2024-01-01T00:00:00Z"),
                          pool("node-20", "team-b", 0, 0, 2, "2023-12-31T22:00:00Z")};
  PrintOptions opts;
  opts.now = kEpoch + 65;
  CHECK(render_objects(items, pool_view(), opts) ==
        "NAME      READY   ALLOCATED   DESIRED   PHASE   AGE\n"
        "py        3       1           3         Ready   65s\n"
        "node-20   0       0           2         Ready   121m\n");

  opts.format = OutputFormat::wide;
  auto wide = render_objects(items, pool_view(), opts);
  CHECK(wide.find("IMAGE") != std::string::npos);
  CHECK(wide.find("python:3.12") != std::string::npos);

  opts.format = OutputFormat::table;
  opts.with_namespace = true;
  opts.no_headers = true;
  CHECK(render_objects(items, pool_view(), opts) ==
        "team-a   py        3   1   3   Ready   65s\n"
        "team-b   node-20   0   0   2   Ready   121m\n");
}

TEST_CASE("missing status shows zero counts and a blank phase cell that keeps the columns aligned") {
  json fresh = {{"metadata", {{"name", "new"}, {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
                {"spec", {{"replicas", 2}}}};
  PrintOptions opts;
  opts.now = kEpoch;
  opts.no_headers = true;
  CHECK(render_objects({fresh}, pool_view(), opts) == "new   0   0   2      0s\n");
}

TEST_CASE("json and yaml print the server's object; lists are a List") {
  auto p = pool("py", "ns", 1, 0, 1, "2024-01-01T00:00:00Z");
  p["metadata"]["uid"] = "u-1";
  PrintOptions opts;
  opts.format = OutputFormat::json;
  CHECK(json::parse(render_objects({p}, pool_view(), opts, true)) == p);
  auto list = json::parse(render_objects({p, p}, pool_view(), opts));
  CHECK(list["kind"] == "List");
  CHECK(list["items"].size() == 2);
  CHECK(list["items"][0] == p);

  opts.format = OutputFormat::yaml;
  auto yaml = render_objects({p}, pool_view(), opts, true);
  CHECK(yaml.find("uid: u-1") != std::string::npos);
  CHECK(yaml.find("kind: List") == std::string::npos);

  // Everything but managedFields, which kubectl hides too.
  auto with_fields = p;
  with_fields["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  opts.format = OutputFormat::json;
  CHECK(json::parse(render_objects({with_fields}, pool_view(), opts, true)) == p);
}

TEST_CASE("-o name prints kind.group/name per object") {
  PrintOptions opts;
  opts.format = OutputFormat::name;
  json sb = {{"metadata", {{"name", "sb-1"}}}};
  json t = {{"metadata", {{"name", "t-1"}}}};
  CHECK(render_objects({sb}, sandbox_view(), opts) == "sandbox.arl.infra.io/sb-1\n");
  CHECK(render_objects({t}, task_view(), opts) == "task.arl.infra.io/t-1\n");
}

TEST_CASE("task table shows the exit code, including 0, and wide shows steps and message") {
  json t = {{"metadata", {{"name", "t1"}, {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
            {"spec", {{"sandboxRef", "sb"}, {"steps", json::array({{{"name", "a"}}, {{"name", "b"}}})}}},
            {"status",
             {{"state", "Failed"},
              {"exitCode", 0},
              {"duration", "1.2s"},
              {"message", "step b: exit 3"},
              {"steps", json::array({{{"name", "a"}, {"state", "Succeeded"}}, {{"name", "b"}, {"state", "Failed"}}})}}}};
  PrintOptions opts;
  opts.now = kEpoch + 7;
  CHECK(render_objects({t}, task_view(), opts) ==
        "NAME   STATE    EXIT   SANDBOX   DURATION   AGE\n"
        "t1     Failed   0      sb        1.2s       7s\n");
  opts.format = OutputFormat::wide;
  CHECK(render_objects({t}, task_view(), opts) ==
        "NAME   STATE    EXIT   SANDBOX   DURATION   STEPS   STEP-USAGE   MESSAGE          AGE\n"
        "t1     Failed   0      sb        1.2s       1/2                  step b: exit 3   7s\n");
}

TEST_CASE("task wide shows each command step's CPU (user + system) and peak memory") {
  json t = {{"metadata", {{"name", "t1"}, {"creationTimestamp", "2024-01-01T00:00:00Z"}}},
            {"spec", {{"sandboxRef", "sb"}, {"steps", json::array({{{"name", "w"}}, {{"name", "build"}}, {{"name", "test"}}})}}},
            {"status",
             {{"state", "Succeeded"},
              {"steps", json::array({{{"name", "w"}, {"state", "Succeeded"}},
                                     {{"name", "build"},
                                      {"state", "Succeeded"},
                                      {"usage", {{"wallMs", 2100.0}, {"cpuUserMs", 1000.0}, {"cpuSystemMs", 240.0}, {"maxRssKb", 49152}}}},
                                     {{"name", "test"},
                                      {"state", "Succeeded"},
                                      {"usage", {{"wallMs", 40.0}, {"cpuUserMs", 30.0}, {"cpuSystemMs", 5.4}, {"maxRssKb", 9728}}}}})}}}};
  PrintOptions opts;
  opts.now = kEpoch + 7;
  opts.format = OutputFormat::wide;
  const std::string out = render_objects({t}, task_view(), opts);
  CHECK(out.find(" build=1.2s/48.0Mi,test=35ms/9.5Mi ") != std::string::npos);
}
