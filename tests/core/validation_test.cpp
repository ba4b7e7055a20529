#include <doctest/doctest.h>

#include <algorithm>

#include "core/error.h"
#include "core/sandbox_settings.h"
#include "core/validation.h"
#include "core/yaml.h"

using namespace arl::core;
using nlohmann::json;

namespace {

json valid_task() {
  return json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Task","metadata":{"name":"t"},
    "spec":{"sandboxRef":"sb","steps":[
      {"name":"w","type":"FilePatch","path":"a.txt","content":"x"},
      {"name":"r","type":"Command","command":["cat","a.txt"]}]}})");
}

json valid_pool() {
  return json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"WarmPool","metadata":{"name":"p"},
    "spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"py","image":"python:3.12"}]}}}})");
}

// Exactly one error, on `path`, whose message contains `text`.
void expect_one(const json& obj, const std::string& path, const std::string& text) {
  auto errs = validate_object(obj);
  CAPTURE(obj.dump());
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].path == path);
  CHECK(errs[0].message.find(text) != std::string::npos);
}

}  // namespace

TEST_CASE("valid objects have no errors") {
  CHECK(validate_object(valid_task()).empty());
  CHECK(validate_object(valid_pool()).empty());
  CHECK(validate_object(json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Sandbox","metadata":{"name":"s"},"spec":{"poolRef":"p"}})")).empty());
}

TEST_CASE("task rules, one failing case each") {
  json t = valid_task();
  t["spec"]["steps"][1].erase("command");
  expect_one(t, "spec.steps[1].command", "required for type Command");

  t = valid_task();
  t["spec"]["steps"][0].erase("path");
  expect_one(t, "spec.steps[0].path", "required for type FilePatch");

  t = valid_task();
  t["spec"]["steps"][1]["type"] = "Shell";
  expect_one(t, "spec.steps[1].type", "unknown step type \"Shell\"");

  t = valid_task();
  t["spec"]["steps"][1]["name"] = "w";
  expect_one(t, "spec.steps[1].name", "duplicate step name \"w\"");

  t = valid_task();
  t["spec"]["steps"][1].erase("name");
  expect_one(t, "spec.steps[1].name", "required");

  t = valid_task();
  t["spec"]["retries"] = -1;
  expect_one(t, "spec.retries", ">= 0");

  t = valid_task();
  t["spec"]["ttlSecondsAfterFinished"] = -5;
  expect_one(t, "spec.ttlSecondsAfterFinished", ">= 0");

  t = valid_task();
  t["spec"]["timeout"] = "soon";
  expect_one(t, "spec.timeout", "invalid duration");

  t = valid_task();
  t["spec"]["steps"] = json::array();
  expect_one(t, "spec.steps", "at least one step");

  t = valid_task();
  t["spec"].erase("sandboxRef");
  expect_one(t, "spec.sandboxRef", "required");

  t = valid_task();
  t["spec"]["steps"][0]["path"] = "../../etc/passwd";
  expect_one(t, "spec.steps[0].path", "escapes the workspace");

  t = valid_task();
  t["metadata"]["name"] = "Bad_Name";
  expect_one(t, "metadata.name", "not a valid name");

  t = valid_task();
  t["spec"]["retries"] = "3";
  expect_one(t, "spec.retries", "must be an integer");
}

TEST_CASE("file patch paths: relative under the workspace, absolute as given") {
  json t = valid_task();
  for (const char* ok : {"/etc/app.conf", "a/../b.txt", "./x/y.txt", "/workspace/hello.py"}) {
    t["spec"]["steps"][0]["path"] = ok;
    CAPTURE(ok);
    CHECK(validate_object(t).empty());
  }
  t["spec"]["steps"][0]["path"] = "dir/";
  expect_one(t, "spec.steps[0].path", "directory");
}

TEST_CASE("every problem is reported at once") {
  json t = valid_task();
  t["spec"]["retries"] = -1;
  t["spec"]["steps"][0].erase("path");
  t["spec"]["steps"][1]["type"] = "Nope";
  auto errs = validate_object(t);
  CHECK(errs.size() == 3);
  try {
    throw_if_invalid("Task \"t\" is invalid:", errs);
    FAIL("no throw");
  } catch (const arl::Error& e) {
    std::string m = e.what();
    CHECK(m.find("spec.retries") != std::string::npos);
    CHECK(m.find("spec.steps[0].path") != std::string::npos);
    CHECK(m.find("spec.steps[1].type") != std::string::npos);
  }
}

TEST_CASE("pool rules") {
  json p = valid_pool();
  p["spec"]["replicas"] = -1;
  expect_one(p, "spec.replicas", ">= 0");

  p = valid_pool();
  p["spec"].erase("replicas");
  expect_one(p, "spec.replicas", "required");

  p = valid_pool();
  p["spec"]["template"]["spec"]["containers"] = json::array();
  expect_one(p, "spec.template.spec.containers", "at least one container");

  p = valid_pool();
  p["spec"]["template"]["spec"]["containers"][0].erase("image");
  expect_one(p, "spec.template.spec.containers[0].image", "required");
}

TEST_CASE("sandbox rules and unknown kinds") {
  expect_one(json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Sandbox","metadata":{"name":"s"},"spec":{}})"),
             "spec.poolRef", "required");
  expect_one(json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Sandbox","metadata":{"name":"s"},"spec":{"poolRef":"p","ttlSecondsAfterFinished":-1}})"),
             "spec.ttlSecondsAfterFinished", ">= 0");
  expect_one(json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Pod","metadata":{"name":"s"}})"), "kind",
             "unknown kind");
}

namespace {
json sandbox_with(const json& spec_extra) {
  json s = json::parse(R"({"apiVersion":"arl.infra.io/v1alpha1","kind":"Sandbox","metadata":{"name":"s"},"spec":{"poolRef":"p"}})");
  s["spec"].update(spec_extra);
  return s;
}
}  // namespace

TEST_CASE("sandbox env and workingDir: valid forms pass") {
  CHECK(validate_object(sandbox_with(json::parse(R"({"env":[
      {"name":"A","value":"1"},{"name":"EMPTY"},{"name":"B","value":""},
      {"name":"S","valueFrom":{"secretKeyRef":{"name":"creds","key":"api-key"}}},
      {"name":"C","valueFrom":{"configMapKeyRef":{"name":"cfg","key":"seed","optional":true}}}],
      "workingDir":"repo/src"})"))).empty());
  CHECK(validate_object(sandbox_with({{"workingDir", "/workspace"}})).empty());
  CHECK(validate_object(sandbox_with({{"workingDir", "/workspace/a/../b"}})).empty());
  auto s = sandbox_settings_from_json(
      sandbox_with(json::parse(R"({"env":[{"name":"S","valueFrom":{"secretKeyRef":{"name":"creds","key":"k","optional":true}}}]})")));
  REQUIRE(s.env.size() == 1);
  CHECK(s.env[0].secret_key_ref == EnvKeyRef{"creds", "k", true});
  CHECK(to_json(s.env[0]) == json::parse(R"({"name":"S","valueFrom":{"secretKeyRef":{"name":"creds","key":"k","optional":true}}})"));
}

TEST_CASE("sandbox env errors name the entry and field") {
  struct Row {
    const char* spec;
    const char* field;
    const char* message;
  };
  const Row rows[] = {
      {R"({"env":[{"value":"1"}]})", "spec.env[0].name", "required"},
      {R"({"env":[{"name":"A B","value":"1"}]})", "spec.env[0].name", "not a valid variable name"},
      {R"({"env":[{"name":"A","value":"1"},{"name":"A","value":"2"}]})", "spec.env[1].name", "\"A\" is set twice"},
      {R"({"env":[{"name":"ARL_SIDECAR_TOKEN","value":"x"}]})", "spec.env[0].name", "reserved"},
      {R"({"env":[{"name":"A","value":"1","valueFrom":{"secretKeyRef":{"name":"s","key":"k"}}}]})", "spec.env[0]", "exactly one of"},
      {R"({"env":[{"name":"A","valueFrom":{"secretKeyRef":{"key":"k"}}}]})", "spec.env[0].valueFrom.secretKeyRef.name", "required"},
      {R"({"env":[{"name":"A","valueFrom":{"configMapKeyRef":{"name":"c"}}}]})", "spec.env[0].valueFrom.configMapKeyRef.key", "required"},
      {R"({"env":[{"name":"A","valueFrom":{"configMapKeyRef":{"name":"c","key":"a/b"}}}]})", "spec.env[0].valueFrom.configMapKeyRef.key", "not a valid key"},
      {R"({"workingDir":"/tmp"})", "spec.workingDir", "outside /workspace"},
      {R"({"workingDir":"/workspacex"})", "spec.workingDir", "outside /workspace"},
      {R"({"workingDir":"../etc"})", "spec.workingDir", "climbs out of /workspace"},
      {R"({"workingDir":"/workspace/../etc"})", "spec.workingDir", "climbs out of /workspace"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.spec);
    expect_one(sandbox_with(json::parse(r.spec)), r.field, r.message);
  }
}
