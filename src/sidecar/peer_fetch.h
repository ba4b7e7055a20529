#pragma once
// Fetches a checkpoint archive from another sidecar (POST /checkpoints/import
// with source_url), handing the body over as it arrives so a big checkpoint
// is never whole in memory.
#include <chrono>
#include <functional>
#include <string>

#include "core/error.h"

namespace arl::sidecar {

/// The source could not be reached or did not answer 200: the server answers
/// 502, the fault is upstream, not in the request.
class UpstreamError : public Error {
 public:
  explicit UpstreamError(const std::string& message) : Error(ErrorCode::unavailable, message) {}
};

struct PeerFetch {
  std::string source_url;  // http://IP:PORT
  std::string checkpoint;  // id or name there
  std::chrono::seconds connect_timeout{2};
  std::chrono::seconds read_timeout{30};
};

/// GETs `source_url/checkpoints/{checkpoint}/archive?format=tar` with `token`
/// as its bearer token, calls `on_start` once the source answered 200 (true
/// when it sent gzip after all: a sidecar without plain tar), then `on_data`
/// with each piece of the body.
/// `token` is wiped before returning, also on failure. Throws UpstreamError
/// naming the URL and the source's status and message (never the token);
/// exceptions from `on_data` are rethrown as they are.
void fetch_archive(const PeerFetch& from, std::string& token, const std::function<void(bool gzip)>& on_start,
                   const std::function<void(const char*, std::size_t)>& on_data);

}  // namespace arl::sidecar
