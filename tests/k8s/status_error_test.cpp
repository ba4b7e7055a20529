#include <doctest/doctest.h>

#include "k8s/status_error.h"

using namespace arl;
using namespace arl::k8s;

TEST_CASE("Kubernetes Status bodies map to error codes and keep the server's message") {
  auto e = status_error(404, R"({"kind":"Status","status":"Failure","message":"warmpools.arl.infra.io \"p1\" not found","reason":"NotFound","code":404})", &resources::warm_pools, "p1");
  CHECK(e.code() == ErrorCode::not_found);
  CHECK(std::string(e.what()) == "warmpools.arl.infra.io \"p1\" not found");

  CHECK(status_error(409, R"({"kind":"Status","reason":"AlreadyExists","message":"pods \"a\" already exists","code":409})").code() == ErrorCode::already_exists);
  auto c = status_error(409, R"({"kind":"Status","reason":"Conflict","message":"Operation cannot be fulfilled on pods \"a\": the object has been modified","code":409})");
  CHECK(c.code() == ErrorCode::conflict);
  CHECK(std::string(c.what()).find("re-read") != std::string::npos);
  CHECK(status_error(403, R"({"kind":"Status","reason":"Forbidden","message":"pods is forbidden","code":403})").code() == ErrorCode::forbidden);
  CHECK(status_error(401, R"({"kind":"Status","reason":"Unauthorized","message":"Unauthorized","code":401})").code() == ErrorCode::unauthorized);
  CHECK(status_error(410, R"j({"kind":"Status","reason":"Expired","message":"too old resource version: 1 (200)","code":410})j").code() == ErrorCode::gone);
  // A watch ERROR event has HTTP 200 on the stream but code 410 inside.
  CHECK(status_error(200, R"({"kind":"Status","reason":"Expired","code":410})").code() == ErrorCode::gone);
  CHECK(status_error(503, "").code() == ErrorCode::unavailable);
  CHECK(status_error(504, "").code() == ErrorCode::timeout);
}

TEST_CASE("422 lists each cause as field: message") {
  auto e = status_error(422, R"({"kind":"Status","reason":"Invalid","code":422,
    "message":"Pod \"x\" is invalid: [spec.containers: Required value, metadata.name: Invalid value]",
    "details":{"name":"x","kind":"Pod","causes":[
      {"reason":"FieldValueRequired","message":"Required value","field":"spec.containers"},
      {"reason":"FieldValueInvalid","message":"Invalid value: \"X\"","field":"metadata.name"}]}})");
  CHECK(e.code() == ErrorCode::invalid);
  CHECK(std::string(e.what()) ==
        "Pod \"x\" is invalid:\n  spec.containers: Required value\n  metadata.name: Invalid value: \"X\"");
}

TEST_CASE("non-Status bodies still name the object") {
  auto e = status_error(404, "404 page not found", &resources::sandboxes, "s1");
  CHECK(e.code() == ErrorCode::not_found);
  CHECK(std::string(e.what()) == "sandboxes.arl.infra.io \"s1\" not found");
  auto p = status_error(502, "bad gateway\n", &resources::pods, "p");
  CHECK(p.code() == ErrorCode::unavailable);
  CHECK(std::string(p.what()).find("HTTP 502: bad gateway") != std::string::npos);
}

TEST_CASE("resource paths") {
  CHECK(resources::pods.object_path("ns", "p") == "/api/v1/namespaces/ns/pods/p");
  CHECK(resources::pods.collection_path("") == "/api/v1/pods");
  CHECK(resources::warm_pools.collection_path("a") == "/apis/arl.infra.io/v1alpha1/namespaces/a/warmpools");
  CHECK(resources::nodes.object_path("ignored", "n1") == "/api/v1/nodes/n1");
  CHECK(resources::crds.object_path("", "warmpools.arl.infra.io") ==
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/warmpools.arl.infra.io");
  CHECK(resources::leases.api_version() == "coordination.k8s.io/v1");
  CHECK(resources::tasks.api_version() == "arl.infra.io/v1alpha1");
}
