#pragma once
// Sandbox.spec.forkOf (issue 16): the sandbox starts as a copy of another
// sandbox's workdir. The operator allocates a warm pod as usual, then the new
// pod's sidecar imports the source's checkpoint straight from the source's
// sidecar (docs/design.md "Fork"). Read from the Sandbox's JSON, apart from
// core::Sandbox, like spec.env: only the allocation reads it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/checkpoint_import.h"  // is_checkpoint_ref
#include "core/validation.h"

namespace arl::core {

struct ForkOf {
  std::string sandbox;     // the source, in the same namespace
  std::string checkpoint;  // an id or name of the source's; "" takes a new one at allocation
  bool operator==(const ForkOf&) const = default;
};

/// spec.forkOf of a Sandbox object; nullopt when absent. Throws
/// Error{invalid} naming the field for a wrong JSON type.
std::optional<ForkOf> fork_of_from_json(const nlohmann::json& sandbox);
nlohmann::json to_json(const ForkOf& f);

/// Every problem of spec.forkOf; `self` is the forking sandbox's own name
/// (a sandbox cannot fork itself).
std::vector<FieldError> validate_fork(const ForkOf& f, std::string_view self);

}  // namespace arl::core
