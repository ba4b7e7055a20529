#pragma once
// Where a fork (Sandbox.spec.forkOf) copies its workdir from, decided before
// any pod is claimed, so a fork that cannot happen fails with a reason and
// leaves the pool's pods untouched (docs/design.md "Fork"). Pure over the
// objects the cache holds: its rows are table-tested.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/fork_spec.h"

namespace arl::op {

struct ForkSource {
  std::string sandbox;     // the source's name
  std::string pool;        // the source's pool: its token derives the source's
  std::string pod_ip;      // where the fork's sidecar fetches the checkpoint
  std::string checkpoint;  // "" -> a new checkpoint is taken at allocation
  bool operator==(const ForkSource&) const = default;
};

/// Why the fork cannot start: ForkSourceNotFound, ForkSourceNotReady,
/// ForkImageMismatch (and ForkFailed for a transfer that failed later).
struct ForkFailure {
  std::string reason;
  std::string message;
  bool operator==(const ForkFailure&) const = default;
};

struct ResolvedFork {
  std::optional<ForkSource> source;
  std::optional<ForkFailure> failure;
};

/// `fork`: the forking Sandbox; `source`: the Sandbox named by forkOf (nullopt
/// when absent); `fork_pool` / `source_pool`: their WarmPools (nullopt when
/// absent). Pools of different names must run the same container images.
ResolvedFork resolve_fork(const core::ForkOf& fork_of, const nlohmann::json& fork,
                          const std::optional<nlohmann::json>& source, const std::optional<nlohmann::json>& fork_pool,
                          const std::optional<nlohmann::json>& source_pool);

}  // namespace arl::op
