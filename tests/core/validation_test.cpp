#include <doctest/doctest.h>

#include <algorithm>

#include "core/error.h"
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
