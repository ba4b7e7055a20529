#include <doctest/doctest.h>

#include <signal.h>

#include <stdexcept>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "sidecar/http_errors.h"

using namespace arl;

namespace {

// A server with the sidecar's error replies and handlers that fail in every
// way a handler can.
struct ThrowingServer {
  httplib::Server svr;
  std::thread thread;
  int port = 0;

  ThrowingServer() {
    signal(SIGPIPE, SIG_IGN);
    sidecar::install_error_replies(svr);
    svr.Get("/arl-error", [](const httplib::Request&, httplib::Response&) {
      throw Error(ErrorCode::not_found, "pid: no process 7 started by this sidecar");
    });
    svr.Get("/std-error", [](const httplib::Request&, httplib::Response&) { throw std::logic_error("broken invariant"); });
    svr.Get("/non-std", [](const httplib::Request&, httplib::Response&) { throw 42; });
    svr.Get("/half-streamed", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/x-ndjson", [](size_t, httplib::DataSink&) { return false; });
      throw "a C string";
    });
    port = svr.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { svr.listen_after_bind(); });
  }
  ~ThrowingServer() {
    svr.stop();
    thread.join();
  }

  std::pair<int, nlohmann::json> get(const char* path) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->get_header_value("Content-Type") == "application/json");
    CHECK_FALSE(r->has_header("EXCEPTION_WHAT"));
    return {r->status, nlohmann::json::parse(r->body)};
  }
};

}  // namespace

TEST_CASE("a handler's arl::Error answers with its status and the JSON error") {
  ThrowingServer s;
  auto [status, body] = s.get("/arl-error");
  CHECK(status == 404);
  CHECK(body["error"] == "pid: no process 7 started by this sidecar");
  CHECK(body["field"] == "pid");
}

TEST_CASE("exceptions of any type from a handler answer 500 with the JSON error") {
  ThrowingServer s;
  struct Row {
    const char* path;
    int status;
    const char* error;
  };
  for (const Row& row : {Row{"/std-error", 500, "internal error: broken invariant"},
                         Row{"/non-std", 500, "internal error: unknown exception"},
                         Row{"/half-streamed", 500, "internal error: unknown exception"},
                         Row{"/no-such-endpoint", 404, "not found: see the sidecar API in SPEC.md"}}) {
    CAPTURE(row.path);
    auto [status, body] = s.get(row.path);
    CHECK(status == row.status);
    CHECK(body["error"] == row.error);
  }
}
