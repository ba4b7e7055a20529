#include "operator/sidecar_forker.h"

#include <memory>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "k8s/direct_transport.h"
#include "k8s/sidecar_client.h"

namespace arl::op {

namespace {

// A 10 MB workdir moves in well under a second; a big one may take long,
// and the fork is not Ready until it has.
constexpr double kImportTimeoutSeconds = 120;
constexpr double kCheckpointTimeoutSeconds = 60;

k8s::SidecarClient client_at(const std::string& address, const std::string& token, double read_timeout_seconds) {
  k8s::ClientOptions o;
  o.read_timeout_seconds = read_timeout_seconds;
  return k8s::SidecarClient(std::make_unique<k8s::DirectTransport>(k8s::DirectOptions{address, token, 2}), o);
}

}  // namespace

SidecarForker sidecar_forker(int port) {
  return [port](const ForkTransfer& t) {
    const std::string source_address = fmt::format("{}:{}", t.source_pod_ip, port);
    auto source = client_at(source_address, t.source_token, kCheckpointTimeoutSeconds);
    auto fork = client_at(fmt::format("{}:{}", t.fork_pod_ip, port), t.fork_token, kImportTimeoutSeconds);
    std::string checkpoint = t.checkpoint;
    const bool taken = checkpoint.empty();
    if (taken) {
      try {
        checkpoint = source.checkpoint().id;
      } catch (const Error& e) {
        throw Error(e.code(), fmt::format("checkpoint of the source: {}", e.what()));
      }
    }
    // The source's cap is shared with its user's own checkpoints: the one
    // taken for this fork goes once copied, or once the copy failed.
    auto drop_taken = [&] {
      if (!taken) return;
      try {
        source.delete_checkpoint(checkpoint);
      } catch (const Error& e) {
        log::warn("Failed to delete the checkpoint taken for a fork",
                  {{"source", source_address}, {"checkpoint", checkpoint}, {"error", e.what()}});
      }
    };
    core::CheckpointInfo imported;
    try {
      // keep: false: the fork's fresh workdir is written straight from the
      // archive, no checkpoint stored in it first (half the writes); a
      // failure discards the pod anyway. A workdir the template fills (its
      // own volume at /workspace) is not empty (409): restored over instead.
      auto import = [&](bool keep) {
        core::CheckpointImportRequest req{"http://" + source_address, checkpoint, t.source_token, "", true};
        req.keep = keep;
        return fork.import_checkpoint(req);
      };
      try {
        imported = import(false);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::conflict) throw;
        imported = import(true);
      }
    } catch (const Error& e) {
      drop_taken();
      throw Error(e.code(), fmt::format("import into the fork: {}", e.what()));
    }
    drop_taken();
    return ForkCopied{checkpoint, imported.files, imported.bytes};
  };
}

}  // namespace arl::op
