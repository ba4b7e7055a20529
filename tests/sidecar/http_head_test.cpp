#include <doctest/doctest.h>

#include <string>

#include "sidecar/http_head.h"

using namespace arl::sidecar;

namespace {
HeadLimits small() {
  HeadLimits l;
  l.max_head_bytes = 512;
  l.max_headers = 4;
  l.max_body_bytes = 1000;
  return l;
}
HeadVerdict check(const std::string& head, const std::string& token = "s3cret") {
  return check_head(head, token, small());
}
}  // namespace

TEST_CASE("head_end finds the blank line, skipping empty lines between pipelined requests") {
  CHECK(head_end("GET / HTTP/1.1\r\nHost: x\r\n") == std::string::npos);
  CHECK(head_end("GET / HTTP/1.1\r\nHost: x\r\n\r\nbody") == 27);
  CHECK(head_end("\r\n\r\nGET / HTTP/1.1\r\n\r\n") == 22);
}

TEST_CASE("check_head: the token is compared raw, before any body") {
  struct Row {
    std::string head;
    int status;
    std::string message;
  };
  const Row rows[] = {
      {"POST /execute HTTP/1.1\r\nX-Arl-Token: s3cret\r\nContent-Length: 5\r\n\r\n", 0, ""},
      {"POST /execute HTTP/1.1\r\nauthorization: bearer s3cret\r\n\r\n", 0, ""},
      {"POST /execute HTTP/1.1\r\nX-Arl-Token:   s3cret  \r\n\r\n", 0, ""},
      {"POST /execute HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 401,
       "token: missing; send Authorization: Bearer <token> or X-Arl-Token"},
      // URL-encoded or with a tail: neither is the token.
      {"POST /execute HTTP/1.1\r\nX-Arl-Token: %73%33cret\r\n\r\n", 401, "token: wrong token"},
      {"POST /execute HTTP/1.1\r\nX-Arl-Token: s3cret%00junk\r\n\r\n", 401, "token: wrong token"},
      {"GET /processes HTTP/1.1\r\nAuthorization: Basic s3cret\r\n\r\n", 401,
       "token: missing; send Authorization: Bearer <token> or X-Arl-Token"},
      // Checked before the body: a chunked upload without the token is refused at its head.
      {"POST /files HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 401,
       "token: missing; send Authorization: Bearer <token> or X-Arl-Token"},
      {"GET /health HTTP/1.1\r\n\r\n", 0, ""},
      {"GET /health?x=1 HTTP/1.1\r\n\r\n", 0, ""},
      {"GET /%68ealth HTTP/1.1\r\n\r\n", 401, "token: missing; send Authorization: Bearer <token> or X-Arl-Token"},
      {"GET /health HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 400, "body: GET /health takes no body"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.head);
    auto v = check(r.head);
    CHECK(v.status == r.status);
    CHECK(v.message == r.message);
  }
  CHECK(check("GET /health HTTP/1.1\r\n\r\n").health);
  CHECK(check("POST /execute HTTP/1.1\r\n\r\n", "").status == 0);  // no token configured
}

TEST_CASE("check_head: sizes, counts and framing are bounded before the body") {
  struct Row {
    std::string head;
    int status;
    std::string message;
  };
  const std::string tok = "X-Arl-Token: s3cret\r\n";
  const Row rows[] = {
      {"POST /files HTTP/1.1\r\n" + tok + "Content-Length: 1000\r\n\r\n", 0, ""},
      {"POST /files HTTP/1.1\r\n" + tok + "Content-Length: 1001\r\n\r\n", 413,
       "body: 1001 bytes is larger than the limit of 1000 bytes"},
      {"POST /files HTTP/1.1\r\n" + tok + "Content-Length: 99999999999999999999\r\n\r\n", 400,
       "Content-Length: not a decimal number"},
      {"POST /files HTTP/1.1\r\n" + tok + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
       "Content-Length: conflicting values"},
      {"POST /files HTTP/1.1\r\n" + tok + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
       "Transfer-Encoding: not allowed together with Content-Length"},
      {"POST /files HTTP/1.1\r\n" + tok + "Transfer-Encoding: gzip\r\n\r\n", 501,
       "Transfer-Encoding: only chunked is supported"},
      {"POST /files HTTP/1.1\r\n" + tok + "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, "headers: more than 4 header fields"},
      {"GET /processes HTTP/1.1\r\n" + tok + "A: " + std::string(600, 'a') + "\r\n\r\n", 431,
       "headers: the request head is larger than 512 bytes"},
      {"GET /processes HTTP/1.1\r\n" + tok + " X: folded\r\n\r\n", 400,
       "headers: malformed header name (folded lines are not accepted)"},
      {"GET /processes HTTP/1.1\r\n" + tok + "A: x\ry\r\n\r\n", 400, "headers: control character in a header value"},
      {"GET /processes HTTP/1.1\r\nX-Arl-Token: s3cret\nX: y\r\n\r\n", 400,
       "headers: control character in a header value"},
      {"GET  /processes HTTP/1.1\r\n\r\n", 400, "request: malformed request line; expected METHOD TARGET HTTP/1.1"},
      {"GET processes HTTP/1.1\r\n\r\n", 400, "request: malformed request line; expected METHOD /PATH HTTP/1.1"},
      {"GET /processes HTTP/2\r\n\r\n", 400, "request: malformed request line; expected METHOD /PATH HTTP/1.1"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.head);
    auto v = check(r.head);
    CHECK(v.status == r.status);
    CHECK(v.message == r.message);
    if (r.status) CHECK(v.close);
  }
}

TEST_CASE("check_head: Connection and HTTP/1.0 decide whether the connection stays") {
  CHECK_FALSE(check("GET /health HTTP/1.1\r\n\r\n").close);
  CHECK(check("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n").close);
  CHECK(check("GET /health HTTP/1.0\r\n\r\n").close);
  CHECK_FALSE(check("GET /health HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
}
