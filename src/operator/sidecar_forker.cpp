#include "operator/sidecar_forker.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/log.h"
#include "k8s/direct_transport.h"

namespace arl::op {

using nlohmann::json;

namespace {

// A 10 MB workdir moves in well under a second; a big one may take long,
// and the fork is not Ready until it has.
constexpr std::chrono::milliseconds kImportTimeout{120'000};
constexpr std::chrono::milliseconds kCheckpointTimeout{60'000};

json call(k8s::DirectTransport& sidecar, std::string_view method, const std::string& endpoint, const json* body,
          std::chrono::milliseconds timeout, std::string_view step) {
  const std::string text = body ? body->dump() : std::string();
  k8s::SidecarReply reply = sidecar.request(method, endpoint, body ? &text : nullptr, timeout);
  if (reply.status / 100 != 2) {
    std::string error;
    try {
      error = json::parse(reply.body).value("error", "");
    } catch (const json::exception&) {
    }
    const std::string what = fmt::format("{} {}", method, endpoint);
    throw Error(reply.status == 404 ? ErrorCode::not_found : ErrorCode::unavailable,
                fmt::format("{}: {}", step, sidecar.refusal_message(what, reply.status, error.empty() ? nullptr : &error, reply.body)));
  }
  try {
    return reply.body.empty() ? json::object() : json::parse(reply.body);
  } catch (const json::exception& e) {
    throw Error(ErrorCode::unavailable, fmt::format("{}: {} answered {} {}: not JSON ({})", step, sidecar.name(), method,
                                                    endpoint, e.what()));
  }
}

}  // namespace

SidecarForker sidecar_forker(int port) {
  return [port](const ForkTransfer& t) {
    const std::string source_address = fmt::format("{}:{}", t.source_pod_ip, port);
    k8s::DirectTransport source(k8s::DirectOptions{source_address, t.source_token, 2});
    k8s::DirectTransport fork(k8s::DirectOptions{fmt::format("{}:{}", t.fork_pod_ip, port), t.fork_token, 2});
    std::string checkpoint = t.checkpoint;
    const bool taken = checkpoint.empty();
    if (taken) {
      const json none = json::object();
      checkpoint = call(source, "POST", "/checkpoints", &none, kCheckpointTimeout, "checkpoint of the source")
                       .value("id", "");
    }
    const json import{{"source_url", "http://" + source_address}, {"checkpoint", checkpoint}, {"token", t.source_token},
                      {"restore", true}};
    // The source's cap is shared with its user's own checkpoints: the one
    // taken for this fork goes once copied, or once the copy failed.
    auto drop_taken = [&] {
      if (!taken) return;
      try {
        call(source, "DELETE", "/checkpoints/" + checkpoint, nullptr, kCheckpointTimeout, "cleanup");
      } catch (const Error& e) {
        log::warn("Failed to delete the checkpoint taken for a fork",
                  {{"source", source_address}, {"checkpoint", checkpoint}, {"error", e.what()}});
      }
    };
    json imported;
    try {
      imported = call(fork, "POST", "/checkpoints/import", &import, kImportTimeout, "import into the fork");
    } catch (const Error&) {
      drop_taken();
      throw;
    }
    drop_taken();
    return ForkCopied{checkpoint, imported.value("files", std::uint64_t{0}), imported.value("bytes", std::uint64_t{0})};
  };
}

}  // namespace arl::op
