#include <doctest/doctest.h>
#include <httplib.h>

#include <thread>

#include "core/error.h"
#include "k8s/rest_client.h"
#include "k8s/server_url.h"

using namespace arl;
using namespace arl::k8s;

TEST_CASE("server URLs keep their scheme, host, port and path prefix") {
  struct Row {
    const char* url;
    bool tls;
    const char* host;
    int port;
    const char* base_path;
  };
  for (const Row& r : {
           Row{"https://10.0.0.1:6443", true, "10.0.0.1", 6443, ""},
           Row{"https://api.example.com", true, "api.example.com", 443, ""},
           Row{"http://127.0.0.1:8080", false, "127.0.0.1", 8080, ""},
           Row{"http://localhost", false, "localhost", 80, ""},
           Row{"https://rancher.example.com/k8s/clusters/c-1", true, "rancher.example.com", 443, "/k8s/clusters/c-1"},
           Row{"https://gw:8443/k8s/clusters/c-1/", true, "gw", 8443, "/k8s/clusters/c-1"},
           Row{"https://[::1]:6443/prefix", true, "::1", 6443, "/prefix"},
           Row{"https://[fd00::1]", true, "fd00::1", 443, ""},
       }) {
    CAPTURE(r.url);
    ServerUrl u = parse_server_url(r.url, "kc");
    CHECK(u.tls == r.tls);
    CHECK(u.host == r.host);
    CHECK(u.port == r.port);
    CHECK(u.base_path == r.base_path);
  }
}

TEST_CASE("bad server URLs name the file and say what is wrong") {
  CHECK_THROWS_WITH_AS(parse_server_url("ftp://h", "/k/config"),
                       "/k/config: server \"ftp://h\" must start with https:// or http://", Error);
  CHECK_THROWS_WITH_AS(parse_server_url("https://h:x1", "kc"), "kc: server \"https://h:x1\" has a bad port", Error);
  CHECK_THROWS_WITH_AS(parse_server_url("https://h:70000", "kc"), "kc: server \"https://h:70000\" has a bad port", Error);
  CHECK_THROWS_WITH_AS(parse_server_url("https://h:", "kc"), "kc: server \"https://h:\" has a bad port", Error);
  CHECK_THROWS_WITH_AS(parse_server_url("https:///p", "kc"), "kc: server \"https:///p\" has no host", Error);
  CHECK_THROWS_WITH_AS(parse_server_url("https://[::1", "kc"),
                       "kc: server \"https://[::1\" has an unclosed [ in its IPv6 address", Error);
}

TEST_CASE("the REST client sends every request below the server's path prefix") {
  httplib::Server srv;
  std::string seen;
  srv.Get(R"(/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    seen = req.path;
    res.set_content(R"({"kind":"Pod","metadata":{"name":"p1","namespace":"ns"}})", "application/json");
  });
  int port = srv.bind_to_any_port("127.0.0.1");
  std::thread t([&] { srv.listen_after_bind(); });
  for (int i = 0; i < 500 && !srv.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));

  ClusterConfig cfg;
  cfg.server = "http://127.0.0.1:" + std::to_string(port) + "/k8s/clusters/c-1";
  cfg.source = "test";
  RestClient client(cfg);
  auto pod = client.get(resources::pods, "ns", "p1");
  CHECK(seen == "/k8s/clusters/c-1/api/v1/namespaces/ns/pods/p1");
  REQUIRE(pod);
  CHECK((*pod)["metadata"]["name"] == "p1");
  CHECK(client.raw("GET", "/readyz").status == 200);
  CHECK(seen == "/k8s/clusters/c-1/readyz");
  srv.stop();
  t.join();
}
