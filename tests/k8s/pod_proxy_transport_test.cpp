#include <doctest/doctest.h>

#include <signal.h>

#include <string>
#include <thread>

#include <httplib.h>

#include "core/error.h"
#include "k8s/pod_proxy_transport.h"
#include "k8s/rest_client.h"
#include "k8s/sidecar_client.h"

using namespace arl;
using namespace arl::k8s;

namespace {

// The API server's pod proxy as the client sees it: the sidecar's answers
// passed through for pod p1, the API server's own Status for a pod that has
// no endpoint.
struct FakeApiServer {
  httplib::Server svr;
  std::thread thread;
  int port = 0;
  std::string seen_token, seen_auth, seen_body;

  FakeApiServer() {
    signal(SIGPIPE, SIG_IGN);
    svr.Post("/api/v1/namespaces/ns1/pods/p1:8080/proxy/execute",
             [this](const httplib::Request& req, httplib::Response& res) {
               record(req);
               res.set_chunked_content_provider("application/x-ndjson", [](size_t, httplib::DataSink& sink) {
                 // Chunks that split events anywhere, as a proxy may.
                 for (const char* c : {"{\"type\":\"start\",\"pid\":9}\n{\"type\":\"std", "out\",\"data\":\"hi\\n\"}",
                                       "\n{\"type\":\"exit\",\"exit_code\":5,\"timed_out\":false,\"duration_ms\":2}\n"})
                   sink.write(c, std::strlen(c));
                 sink.done();
                 return true;
               });
             });
    svr.Post("/api/v1/namespaces/ns1/pods/p1:8080/proxy/files", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.status = 400;
      res.set_content(R"({"error":"path: must not be empty","field":"path","code":"invalid"})", "application/json");
    });
    svr.Post("/api/v1/namespaces/ns1/pods/p1:8080/proxy/signal", [this](const httplib::Request& req, httplib::Response& res) {
      record(req);
      res.set_content(R"({"success":true,"message":"sent signal 15 to process 9"})", "application/json");
    });
    svr.Post(R"(/api/v1/namespaces/ns1/pods/gone:8080/proxy/.*)", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content(R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"error trying to reach service: dial tcp 10.0.0.9:8080: connect: connection refused","reason":"ServiceUnavailable","code":503})",
                      "application/json");
    });
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
  }
  ~FakeApiServer() {
    svr.stop();
    thread.join();
  }
  void record(const httplib::Request& req) {
    seen_token = req.get_header_value("X-Arl-Token");
    seen_auth = req.get_header_value("Authorization");
    seen_body = req.body;
  }
  ClusterConfig config() const {
    ClusterConfig c;
    c.server = "http://127.0.0.1:" + std::to_string(port);
    c.token = "user-credentials";
    c.source = "test";
    return c;
  }
};

SidecarClient client_for(RestClient& rest, const std::string& pod) {
  return SidecarClient(std::make_unique<PodProxyTransport>(rest, PodProxyTarget{"ns1", pod, "pool-token", "sb1"}));
}

}  // namespace

TEST_CASE("pod proxy: the path names the pod's sidecar port") {
  CHECK(pod_proxy_path("ns1", "p1", "/execute") == "/api/v1/namespaces/ns1/pods/p1:8080/proxy/execute");
  CHECK(pod_proxy_path("ns1", "p1", "files") == "/api/v1/namespaces/ns1/pods/p1:8080/proxy/files");
}

TEST_CASE("pod proxy: streamed events arrive decoded; the pool token rides next to the user's credentials") {
  FakeApiServer api;
  RestClient rest(api.config());
  auto c = client_for(rest, "p1");
  std::string out;
  core::ExecuteRequest req;
  req.command = {"sh", "-c", "echo hi; exit 5"};
  auto r = c.execute_stream(req, [&](const core::ExecEvent& ev) { out += ev.data; });
  CHECK(r.done);
  CHECK(r.exit_code == 5);
  CHECK(out == "hi\n");
  CHECK(api.seen_token == "pool-token");
  CHECK(api.seen_auth == "Bearer user-credentials");
  CHECK(api.seen_body.find("\"stream\":true") != std::string::npos);
  CHECK(c.execute_stream(req).stdout_data == "hi\n");
  CHECK(c.signal(9, "SIGTERM").success);
}

TEST_CASE("pod proxy: the sidecar's refusals and the API server's own answers map like direct ones") {
  FakeApiServer api;
  RestOptions o;
  o.max_retries = 0;
  RestClient rest(api.config(), o);
  auto c = client_for(rest, "p1");
  CHECK_THROWS_WITH_AS(c.write_file({"", "x", std::nullopt, ""}),
                       "sandbox sb1: the executor refused the request: path: must not be empty", Error);
  try {
    c.write_file({"", "x", std::nullopt, ""});
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid);
  }

  auto gone = client_for(rest, "gone");
  core::ExecuteRequest req;
  req.command = {"true"};
  const char* unreachable =
      "sandbox sb1 (pod gone): error trying to reach service: dial tcp 10.0.0.9:8080: connect: connection refused";
  CHECK_THROWS_WITH_AS(gone.execute_stream(req), unreachable, Error);
  CHECK_THROWS_WITH_AS(gone.signal(1, "SIGTERM"), unreachable, Error);
  try {
    gone.execute_stream(req);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::unavailable);
  }
}
