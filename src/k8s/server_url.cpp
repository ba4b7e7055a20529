#include "k8s/server_url.h"

#include "core/error.h"

namespace arl::k8s {

ServerUrl parse_server_url(const std::string& server, const std::string& source) {
  auto bad = [&](const std::string& what) {
    return Error(ErrorCode::invalid, source + ": server \"" + server + "\" " + what);
  };
  ServerUrl u;
  std::string s;
  if (server.rfind("https://", 0) == 0) {
    s = server.substr(8);
  } else if (server.rfind("http://", 0) == 0) {
    u.tls = false;
    u.port = 80;
    s = server.substr(7);
  } else {
    throw bad("must start with https:// or http://");
  }
  if (auto slash = s.find('/'); slash != std::string::npos) {
    u.base_path = s.substr(slash);
    s.resize(slash);
    while (!u.base_path.empty() && u.base_path.back() == '/') u.base_path.pop_back();
    if (u.base_path.find_first_of("?#") != std::string::npos) throw bad("must not have a query or fragment");
  }
  std::string port;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    if (close == std::string::npos) throw bad("has an unclosed [ in its IPv6 address");
    u.host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') throw bad("has junk after its IPv6 address");
      port = s.substr(close + 2);
    }
  } else if (auto colon = s.rfind(':'); colon != std::string::npos) {
    u.host = s.substr(0, colon);
    port = s.substr(colon + 1);
  } else {
    u.host = s;
  }
  if (u.host.empty()) throw bad("has no host");
  if (!port.empty() || s.back() == ':') {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
      throw bad("has a bad port");
    u.port = std::stoi(port);
    if (u.port < 1 || u.port > 65535) throw bad("has a bad port");
  }
  return u;
}

}  // namespace arl::k8s
