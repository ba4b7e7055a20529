#pragma once
// One validation function per kind, each returning EVERY problem found with
// its field path, so a user fixes a file in one round. The same rules are in
// the CRDs' CEL validations (manifests/crds); the CLI and SDK run these first.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/types.h"

namespace arl::core {

struct FieldError {
  std::string path;     // e.g. spec.steps[1].command
  std::string message;  // e.g. required for type Command
  std::string to_string() const { return path + ": " + message; }
  bool operator==(const FieldError&) const = default;
};

std::vector<FieldError> validate(const WarmPool& pool);
std::vector<FieldError> validate(const Sandbox& sandbox);
std::vector<FieldError> validate(const Task& task);

/// Validates an object as read from a file or the wire: the kind picks the
/// rules; type errors (`spec.replicas: must be an integer`) are reported as
/// field errors too. Unknown kinds are one error on `kind`.
std::vector<FieldError> validate_object(const nlohmann::json& obj);

/// metadata.name rules of Kubernetes (DNS-1123 subdomain, <= 253 chars).
bool is_dns1123_subdomain(std::string_view name);
/// Label value rules (<= 63 chars, alphanumerics, '-', '_', '.').
bool is_label_value(std::string_view value);

/// Throws Error{invalid} listing every problem, one per line, prefixed with
/// `what` (e.g. `Task "t1" is invalid:`), when `errors` is not empty.
void throw_if_invalid(const std::string& what, const std::vector<FieldError>& errors);

}  // namespace arl::core
