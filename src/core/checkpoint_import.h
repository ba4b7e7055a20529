#pragma once
// The JSON form of POST /checkpoints/import: the sidecar fetches a checkpoint
// from another sidecar (pod to pod) and stores it as a new one of its own.
// The operator's fork (Sandbox.spec.forkOf) sends it to the fork's sidecar.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace arl::core {

struct CheckpointImportRequest {
  std::string source_url;  // "http://IP:PORT" of the source sidecar
  std::string checkpoint;  // id or name there
  std::string token;       // the source's bearer token: used for that one request, never logged or echoed
  std::string name;        // optional name here (CheckpointRequest's rules)
  bool restore = false;    // restore the workdir to it once imported
  /// false: no checkpoint is stored; the archive is written straight into the
  /// workdir, which must be empty (a fork's fresh pod). Half the writes of
  /// store-then-restore; a failure leaves the workdir partly written, so it is
  /// for a sandbox that is thrown away when the import fails. Needs restore.
  bool keep = true;
};

/// A checkpoint id (8 hex digits) or name: 1-63 characters of A-Z, a-z,
/// 0-9, '.', '_' or '-', starting with a letter or digit. Such a ref goes in
/// a URL path unescaped and can never be "." or "..".
bool is_checkpoint_ref(std::string_view ref);

void to_json(nlohmann::json& j, const CheckpointImportRequest& v);
/// Throws Error{invalid} naming the field.
void from_json(const nlohmann::json& j, CheckpointImportRequest& v);

}  // namespace arl::core
