#include "core/checkpoint_import.h"

#include <cctype>

#include "core/error.h"
#include "core/json_reader.h"
#include "core/sidecar_protocol.h"

namespace arl::core {

bool is_checkpoint_ref(std::string_view ref) {
  auto ok = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; };
  if (ref.empty() || ref.size() > 63 || !std::isalnum(static_cast<unsigned char>(ref[0]))) return false;
  for (char c : ref)
    if (!ok(c)) return false;
  return true;
}

void to_json(nlohmann::json& j, const CheckpointImportRequest& v) {
  j = nlohmann::json{{"source_url", v.source_url}, {"checkpoint", v.checkpoint}, {"token", v.token}};
  if (!v.name.empty()) j["name"] = v.name;
  if (v.restore) j["restore"] = true;
  if (!v.keep) j["keep"] = false;
}

void from_json(const nlohmann::json& j, CheckpointImportRequest& v) {
  if (!j.is_object()) throw Error(ErrorCode::invalid, "body: must be a JSON object");
  JsonReader r(j, "");
  v.source_url = r.str("source_url");
  v.checkpoint = r.str("checkpoint");
  v.token = r.str("token");
  v.restore = r.boolean("restore");
  v.keep = r.boolean("keep", true);
  // The name follows POST /checkpoints' rules: one check, one message.
  v.name = nlohmann::json{{"name", r.str("name")}}.get<CheckpointRequest>().name;
  std::string problems;
  auto problem = [&](const std::string& p) { problems += (problems.empty() ? "" : "; ") + p; };
  if (v.source_url.rfind("http://", 0) != 0 && v.source_url.rfind("https://", 0) != 0)
    problem("source_url: must be http://HOST:PORT of the source sidecar");
  if (!is_checkpoint_ref(v.checkpoint))
    problem("checkpoint: must be the id or name of a checkpoint of the source (A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit)");
  if (!v.keep && !v.restore)
    problem("keep: false writes the archive straight into the workdir, which is a restore: set restore: true as well");
  if (!v.keep && !v.name.empty()) problem("name: a checkpoint imported with keep: false is not stored, so it takes no name");
  if (!problems.empty()) throw Error(ErrorCode::invalid, problems);
}

}  // namespace arl::core
