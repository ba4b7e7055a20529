#pragma once
// The sidecar's gate on a request head, decided before any body byte is read
// and before a worker thread is given to the connection (see http_front.h):
// size and count limits, the body's declared size, and the token. Pure: no
// sockets, so every rule is a table test.
#include <cstddef>
#include <string>
#include <string_view>

namespace arl::sidecar {

struct HeadLimits {
  size_t max_head_bytes = 64 * 1024;  // request line + every header line
  size_t max_headers = 100;
  size_t max_body_bytes = 64 * 1024 * 1024;
};

struct HeadVerdict {
  int status = 0;          // 0: hand the request to the server; else answer this and close
  std::string message;     // the JSON error's text when status != 0
  bool health = false;     // GET /health without a body: answered by the front itself
  bool close = false;      // the client asked for Connection: close (or spoke HTTP/1.0)
};

/// Where the head ends (just past the blank line), or npos while incomplete.
/// Leading empty lines between pipelined requests (RFC 9112 2.2) are part of it.
size_t head_end(std::string_view buffer);

/// Checks one complete head (as returned by head_end). `token` empty: no auth.
HeadVerdict check_head(std::string_view head, std::string_view token, const HeadLimits& limits);

/// The raw value compared in constant time: no decoding of any kind.
bool token_matches(std::string_view given, std::string_view token);

}  // namespace arl::sidecar
