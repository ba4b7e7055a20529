#include "sidecar/http_head.h"

#include <strings.h>

#include <vector>

#include "core/names.h"

namespace arl::sidecar {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_token_char(char c) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || extra.find(c) != extra.npos;
}

// Control characters other than HTAB are refused: httplib and this gate must
// agree on where every header starts and ends, or a second header could be
// smuggled past the token check.
bool clean_value(std::string_view v) {
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) return false;
  }
  return true;
}

HeadVerdict refuse(int status, std::string message) { return {status, std::move(message), false, true}; }

}  // namespace

size_t head_end(std::string_view b) {
  size_t start = 0;
  while (b.substr(start, 2) == "\r\n") start += 2;
  auto p = b.find("\r\n\r\n", start);
  return p == std::string_view::npos ? std::string_view::npos : p + 4;
}

bool token_matches(std::string_view given, std::string_view token) {
  if (given.size() != token.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < given.size(); ++i) d |= static_cast<unsigned char>(given[i] ^ token[i]);
  return d == 0;
}

HeadVerdict check_head(std::string_view head, std::string_view token, const HeadLimits& limits) {
  if (head.size() > limits.max_head_bytes)
    return refuse(431, "headers: the request head is larger than " + std::to_string(limits.max_head_bytes) + " bytes");
  while (head.substr(0, 2) == "\r\n") head.remove_prefix(2);
  head.remove_suffix(4);  // the blank line

  std::vector<std::string_view> lines;
  for (size_t pos = 0;;) {
    auto eol = head.find("\r\n", pos);
    lines.push_back(head.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos));
    if (eol == std::string_view::npos) break;
    pos = eol + 2;
  }
  if (lines.size() - 1 > limits.max_headers)
    return refuse(431, "headers: more than " + std::to_string(limits.max_headers) + " header fields");

  // Request line: METHOD SP TARGET SP HTTP/1.x
  std::string_view rl = lines[0];
  auto sp1 = rl.find(' ');
  auto sp2 = sp1 == rl.npos ? rl.npos : rl.find(' ', sp1 + 1);
  if (sp2 == rl.npos || rl.find(' ', sp2 + 1) != rl.npos || !clean_value(rl))
    return refuse(400, "request: malformed request line; expected METHOD TARGET HTTP/1.1");
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1), version = rl.substr(sp2 + 1);
  if (method.empty() || target.empty() || target[0] != '/' || (version != "HTTP/1.1" && version != "HTTP/1.0"))
    return refuse(400, "request: malformed request line; expected METHOD /PATH HTTP/1.1");
  for (char c : method)
    if (!is_token_char(c)) return refuse(400, "request: malformed method");

  HeadVerdict v;
  v.close = version == "HTTP/1.0";
  std::string_view content_length, transfer_encoding, arl_token, authorization, connection;
  bool has_cl = false, has_te = false;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    auto colon = l.find(':');
    if (colon == 0 || colon == l.npos) return refuse(400, "headers: malformed header line; expected NAME: VALUE");
    std::string_view name = l.substr(0, colon), value = trim(l.substr(colon + 1));
    for (char c : name)
      if (!is_token_char(c)) return refuse(400, "headers: malformed header name (folded lines are not accepted)");
    if (!clean_value(value)) return refuse(400, "headers: control character in a header value");
    if (iequals(name, "Content-Length")) {
      if (has_cl && value != content_length) return refuse(400, "Content-Length: conflicting values");
      has_cl = true;
      content_length = value;
    } else if (iequals(name, "Transfer-Encoding")) {
      if (has_te) return refuse(400, "Transfer-Encoding: given more than once");
      has_te = true;
      transfer_encoding = value;
    } else if (iequals(name, kTokenHeader)) {
      arl_token = value;
    } else if (iequals(name, "Authorization")) {
      authorization = value;
    } else if (iequals(name, "Connection")) {
      connection = value;
    }
  }
  if (iequals(connection, "close")) v.close = true;
  if (iequals(connection, "keep-alive")) v.close = false;
  if (has_te && has_cl) return refuse(400, "Transfer-Encoding: not allowed together with Content-Length");
  if (has_te && !iequals(transfer_encoding, "chunked"))
    return refuse(501, "Transfer-Encoding: only chunked is supported");
  bool has_body = has_te;
  if (has_cl) {
    if (content_length.empty() || content_length.size() > 19 || content_length.find_first_not_of("0123456789") != content_length.npos)
      return refuse(400, "Content-Length: not a decimal number");
    unsigned long long n = std::stoull(std::string(content_length));
    if (n > limits.max_body_bytes)
      return refuse(413, "body: " + std::to_string(n) + " bytes is larger than the limit of " +
                             std::to_string(limits.max_body_bytes) + " bytes");
    has_body = n > 0;
  }

  std::string_view path = target.substr(0, target.find('?'));
  if (method == "GET" && path == "/health") {
    if (has_body) return refuse(400, "body: GET /health takes no body");
    v.health = true;
    return v;
  }
  if (token.empty()) return v;
  std::string_view given = arl_token;
  if (given.empty() && authorization.size() > 7 && iequals(authorization.substr(0, 7), "Bearer "))
    given = trim(authorization.substr(7));
  if (given.empty()) return refuse(401, "token: missing; send Authorization: Bearer <token> or X-Arl-Token");
  if (!token_matches(given, token)) return refuse(401, "token: wrong token");
  return v;
}

}  // namespace arl::sidecar
