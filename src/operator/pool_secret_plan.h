#pragma once
// The rule for a pool's token Secret (docs/design.md, "Deleting a pool"): a
// sandbox keeps working until it is released or deleted, whatever happens to
// its pool, so the Secret outlives the pool while a sandbox still holds a pod
// of it, and is deleted once neither the pool nor any such sandbox needs it.
#include <string>
#include <vector>

#include "operator/cache.h"

namespace arl::op {

/// Does a sandbox of `pool` (among the namespace's sandboxes) still hold a
/// pod it may run tasks on? Released and Failed sandboxes do not: their pods
/// are deleted and their tasks fail without calling the sidecar.
bool pool_token_in_use(const std::string& pool, const std::vector<Cache::Obj>& sandboxes);

}  // namespace arl::op
