#pragma once
// The fork's transfer (Sandbox.spec.forkOf, docs/design.md "Fork"): the new
// pod's sidecar, already bound to the fork's token, fetches the source's
// checkpoint straight from the source's sidecar (pod to pod: the bytes never
// pass through the operator) and restores its workdir to it, before the
// fork's status says Ready.
#include <cstdint>
#include <functional>
#include <string>

namespace arl::op {

struct ForkTransfer {
  std::string fork_pod_ip;
  std::string fork_token;     // the fork's own sandbox token (its sidecar is bound to it)
  std::string source_pod_ip;
  std::string source_token;   // the source sandbox's token: handed to the fork's sidecar for this one fetch
  std::string checkpoint;     // "" -> a checkpoint of the source is taken now and deleted once imported
  bool operator==(const ForkTransfer&) const = default;
};

struct ForkCopied {
  std::string checkpoint;  // the source's checkpoint that was copied (its id)
  std::uint64_t files = 0;
  std::uint64_t bytes = 0;
};

/// Throws arl::Error naming the sidecar and step that failed.
using SidecarForker = std::function<ForkCopied(const ForkTransfer&)>;

/// Over the sidecars' HTTP API: POST /checkpoints on the source when no
/// checkpoint is named, then POST /checkpoints/import {source_url,
/// checkpoint, token, restore: true} on the fork, then (best effort) DELETE of
/// the checkpoint taken.
SidecarForker sidecar_forker(int port = 8080);

}  // namespace arl::op
