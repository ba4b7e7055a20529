#include "sidecar/peer_fetch.h"

#include <exception>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "sidecar/credential.h"

namespace arl::sidecar {
namespace {

constexpr std::size_t kMaxErrorBody = 4096;

// The source's {"error": "..."} message, or the start of whatever it sent.
std::string message_of(const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"].get<std::string>();
  return body.substr(0, 200);
}

// httplib's own names ("Connection", "Read") do not say what went wrong.
std::string describe(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    case httplib::Error::Read: return "reading the archive failed or timed out";
    case httplib::Error::Write: return "sending the request failed";
    default: return httplib::to_string(e);
  }
}

}  // namespace

void fetch_archive(const PeerFetch& from, std::string& token, const std::function<void(bool gzip)>& on_start,
                   const std::function<void(const char*, std::size_t)>& on_data) {
  httplib::Headers headers;
  if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
  wipe(token);
  // httplib keeps its own copy of the headers inside the request it builds;
  // that copy is freed with it when Get returns.
  struct WipeHeaders {
    httplib::Headers& h;
    ~WipeHeaders() {
      for (auto& [k, v] : h) wipe(v);
    }
  } wipe_headers{headers};

  // A plain tar: pod to pod the network is not the limit, and deflating a
  // 10 MB workdir costs the source ~100 ms of CPU per fork; even gzip's
  // stored blocks cost a CRC and a copy on both sides.
  const std::string endpoint = "/checkpoints/" + from.checkpoint + "/archive";
  const std::string path = endpoint + "?format=tar";
  const std::string where = from.source_url + endpoint;
  httplib::Client cli(from.source_url);
  if (!cli.is_valid()) throw UpstreamError("source_url: \"" + from.source_url + "\" is not a usable URL");
  cli.set_connection_timeout(from.connect_timeout);
  cli.set_read_timeout(from.read_timeout);

  int status = 0;
  std::string error_body;
  std::exception_ptr failed;
  auto res = cli.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        if (status != 200) return true;
        const std::string type = r.get_header_value("Content-Type");
        const bool gzip = type.rfind("application/gzip", 0) == 0;
        if (!gzip && type.rfind("application/x-tar", 0) != 0) {
          failed = std::make_exception_ptr(
              UpstreamError(fmt::format("source {}: answered Content-Type \"{}\", not a tar archive", where, type)));
          return false;
        }
        on_start(gzip);
        return true;
      },
      [&](const char* data, std::size_t n) {
        if (status != 200) {
          error_body.append(data, std::min(n, kMaxErrorBody - std::min(kMaxErrorBody, error_body.size())));
          return true;
        }
        try {
          on_data(data, n);
          return true;
        } catch (...) {
          failed = std::current_exception();  // not through httplib: it would turn it into a generic failure
          return false;
        }
      });
  if (failed) std::rethrow_exception(failed);
  if (!res) {
    throw UpstreamError(fmt::format("source {}: {} (connect timeout {} s, read timeout {} s)", where,
                                    describe(res.error()), from.connect_timeout.count(),
                                    from.read_timeout.count()));
  }
  if (status != 200) throw UpstreamError(fmt::format("source {} answered {}: {}", where, status, message_of(error_body)));
}

}  // namespace arl::sidecar
