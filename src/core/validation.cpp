#include "core/validation.h"

#include <cctype>
#include <set>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/names.h"
#include "core/fork_spec.h"
#include "core/sandbox_settings.h"

namespace arl::core {
namespace {

void check_name(const ObjectMeta& m, std::vector<FieldError>& errs) {
  if (m.name.empty() && m.generate_name.empty()) {
    errs.push_back({"metadata.name", "required"});
  } else if (!m.name.empty() && !is_dns1123_subdomain(m.name)) {
    errs.push_back({"metadata.name",
                    fmt::format("\"{}\" is not a valid name: use lower-case letters, digits, '-' and '.', starting and "
                                "ending with a letter or digit",
                                m.name)});
  }
}

void check_ttl(const std::optional<int64_t>& ttl, std::vector<FieldError>& errs) {
  if (ttl && *ttl < 0) errs.push_back({"spec.ttlSecondsAfterFinished", fmt::format("must be >= 0, got {}", *ttl)});
}

// A relative FilePatch path lands under the step's workdir; `..` that climbs
// out of it would write somewhere the author did not mean.
void check_file_path(const std::string& field, const std::string& path, std::vector<FieldError>& errs) {
  if (path.find('\0') != std::string::npos) {
    errs.push_back({field, "must not contain NUL bytes"});
    return;
  }
  if (path.back() == '/') {
    errs.push_back({field, fmt::format("\"{}\" names a directory; give a file path", path)});
    return;
  }
  if (path.front() == '/') return;
  int depth = 0;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part == "..") {
      if (--depth < 0) {
        errs.push_back({field, fmt::format("relative path \"{}\" escapes the workspace; use an absolute path to write "
                                           "outside /workspace",
                                           path)});
        return;
      }
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
}

bool is_config_key(std::string_view k) {
  if (k.empty() || k.size() > 253) return false;
  for (char c : k)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

void check_key_ref(const std::string& field, const char* kind, const EnvKeyRef& r, std::vector<FieldError>& errs) {
  if (r.name.empty()) errs.push_back({field + ".name", fmt::format("required: the name of a {} in the sandbox's namespace", kind)});
  else if (!is_dns1123_subdomain(r.name)) errs.push_back({field + ".name", fmt::format("\"{}\" is not a valid {} name", r.name, kind)});
  if (r.key.empty()) errs.push_back({field + ".key", fmt::format("required: the key in the {} whose value to use", kind)});
  else if (!is_config_key(r.key))
    errs.push_back({field + ".key", fmt::format("\"{}\" is not a valid key: use letters, digits, '-', '_' and '.'", r.key)});
}

// Names as a container's env allows them: anything printable but '='. The
// sidecar's own token variable is never handed to commands, so it cannot be set.
void check_env(const std::vector<EnvVar>& env, std::vector<FieldError>& errs) {
  std::set<std::string> seen;
  for (size_t i = 0; i < env.size(); ++i) {
    const EnvVar& e = env[i];
    const std::string f = fmt::format("spec.env[{}]", i);
    bool printable = true;
    for (char c : e.name) printable = printable && c > ' ' && c <= '~' && c != '=';
    if (e.name.empty()) errs.push_back({f + ".name", "required"});
    else if (!printable) errs.push_back({f + ".name", fmt::format("\"{}\" is not a valid variable name: printable ASCII, no spaces or '='", e.name)});
    else if (e.name == "ARL_SIDECAR_TOKEN") errs.push_back({f + ".name", "ARL_SIDECAR_TOKEN is reserved for the sidecar"});
    else if (!seen.insert(e.name).second) errs.push_back({f + ".name", fmt::format("\"{}\" is set twice", e.name)});
    const int sources = (e.value ? 1 : 0) + (e.secret_key_ref ? 1 : 0) + (e.config_map_key_ref ? 1 : 0);
    if (sources > 1)
      errs.push_back({f, "give exactly one of value, valueFrom.secretKeyRef or valueFrom.configMapKeyRef"});
    if (e.secret_key_ref) check_key_ref(f + ".valueFrom.secretKeyRef", "Secret", *e.secret_key_ref, errs);
    if (e.config_map_key_ref) check_key_ref(f + ".valueFrom.configMapKeyRef", "ConfigMap", *e.config_map_key_ref, errs);
  }
}

// The default cwd must stay inside the workdir: the workdir is what the pool
// prepares and /reset empties, so a sandbox's commands never start elsewhere.
void check_working_dir(const std::string& dir, std::vector<FieldError>& errs) {
  if (dir.empty()) return;
  const std::string field = "spec.workingDir";
  const std::string root = std::string(kDefaultWorkDir);
  std::string rel = dir;
  if (dir.front() == '/') {
    if (dir != root && dir.rfind(root + "/", 0) != 0) {
      errs.push_back({field, fmt::format("\"{}\" is outside {}; give a path under it or relative to it", dir, root)});
      return;
    }
    rel = dir.substr(root.size());
  }
  if (dir.find('\0') != std::string::npos) {
    errs.push_back({field, "must not contain NUL bytes"});
    return;
  }
  int depth = 0;
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    std::string_view part(rel.data() + start, end - start);
    if (part == "..") {
      if (--depth < 0) {
        errs.push_back({field, fmt::format("\"{}\" climbs out of {}; give a path under it", dir, root)});
        return;
      }
    } else if (!part.empty() && part != ".") {
      ++depth;
    }
    start = end + 1;
  }
}

}  // namespace

bool is_dns1123_subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  for (char c : name)
    if (!alnum(c) && c != '-' && c != '.') return false;
  return true;
}

bool is_label_value(std::string_view v) {
  if (v.size() > 63) return false;
  if (v.empty()) return true;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v)
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

std::vector<FieldError> validate(const WarmPool& pool) {
  std::vector<FieldError> errs;
  check_name(pool.metadata, errs);
  if (!pool.metadata.name.empty() && !is_label_value(pool.metadata.name))
    errs.push_back({"metadata.name", "must be at most 63 characters (it is used as a label value on the pool's pods)"});
  if (!pool.spec.replicas) errs.push_back({"spec.replicas", "required"});
  else if (*pool.spec.replicas < 0) errs.push_back({"spec.replicas", fmt::format("must be >= 0, got {}", *pool.spec.replicas)});
  const auto& tmpl = pool.spec.template_;
  if (tmpl.is_null()) {
    errs.push_back({"spec.template", "required"});
  } else {
    const auto* containers = tmpl.contains("spec") && tmpl["spec"].is_object() && tmpl["spec"].contains("containers")
                                 ? &tmpl["spec"]["containers"]
                                 : nullptr;
    if (!containers || !containers->is_array() || containers->empty()) {
      errs.push_back({"spec.template.spec.containers", "at least one container is required"});
    } else {
      for (size_t i = 0; i < containers->size(); ++i) {
        const auto& c = (*containers)[i];
        if (!c.is_object() || !c.contains("name") || !c["name"].is_string() || c["name"].get<std::string>().empty())
          errs.push_back({fmt::format("spec.template.spec.containers[{}].name", i), "required"});
        if (!c.is_object() || !c.contains("image") || !c["image"].is_string() || c["image"].get<std::string>().empty())
          errs.push_back({fmt::format("spec.template.spec.containers[{}].image", i), "required"});
      }
    }
  }
  return errs;
}

std::vector<FieldError> validate(const Sandbox& sandbox) {
  std::vector<FieldError> errs;
  check_name(sandbox.metadata, errs);
  if (sandbox.spec.pool_ref.empty()) errs.push_back({"spec.poolRef", "required: the name of a WarmPool in the same namespace"});
  else if (!is_dns1123_subdomain(sandbox.spec.pool_ref))
    errs.push_back({"spec.poolRef", fmt::format("\"{}\" is not a valid WarmPool name", sandbox.spec.pool_ref)});
  check_ttl(sandbox.spec.ttl_seconds_after_finished, errs);
  return errs;
}

std::vector<FieldError> validate_settings(const SandboxSettingsSpec& s) {
  std::vector<FieldError> errs;
  check_env(s.env, errs);
  check_working_dir(s.working_dir, errs);
  return errs;
}

std::vector<FieldError> validate(const Task& task) {
  std::vector<FieldError> errs;
  check_name(task.metadata, errs);
  if (task.spec.sandbox_ref.empty()) errs.push_back({"spec.sandboxRef", "required: the name of a Sandbox in the same namespace"});
  if (!task.spec.timeout.empty() && !is_valid_duration(task.spec.timeout))
    errs.push_back({"spec.timeout", fmt::format("invalid duration \"{}\" (use e.g. 30s, 2m, 1h30m)", task.spec.timeout)});
  if (task.spec.retries < 0) errs.push_back({"spec.retries", fmt::format("must be >= 0, got {}", task.spec.retries)});
  check_ttl(task.spec.ttl_seconds_after_finished, errs);
  if (task.spec.steps.empty()) errs.push_back({"spec.steps", "at least one step is required"});
  std::set<std::string> names;
  for (size_t i = 0; i < task.spec.steps.size(); ++i) {
    const Step& s = task.spec.steps[i];
    std::string at = fmt::format("spec.steps[{}]", i);
    if (s.name.empty()) errs.push_back({at + ".name", "required"});
    else if (!names.insert(s.name).second) errs.push_back({at + ".name", fmt::format("duplicate step name \"{}\"", s.name)});
    if (s.type == kStepCommand) {
      if (s.command.empty()) errs.push_back({at + ".command", "required for type Command"});
      else if (s.command.front().empty()) errs.push_back({at + ".command[0]", "must not be empty"});
      if (!s.path.empty()) errs.push_back({at + ".path", "only allowed for type FilePatch"});
    } else if (s.type == kStepFilePatch) {
      if (s.path.empty()) errs.push_back({at + ".path", "required for type FilePatch"});
      else check_file_path(at + ".path", s.path, errs);
      if (!s.command.empty()) errs.push_back({at + ".command", "only allowed for type Command"});
      if (s.background) errs.push_back({at + ".background", "only allowed for type Command"});
    } else if (s.type.empty()) {
      errs.push_back({at + ".type", "required: Command or FilePatch"});
    } else {
      errs.push_back({at + ".type", fmt::format("unknown step type \"{}\": use Command or FilePatch", s.type)});
    }
  }
  return errs;
}

std::vector<FieldError> validate_object(const nlohmann::json& obj) {
  if (!obj.is_object()) return {{"", "must be an object"}};
  std::string kind = obj.value("kind", "");
  std::string api = obj.value("apiVersion", "");
  std::vector<FieldError> errs;
  if (api != "arl.infra.io/v1alpha1")
    errs.push_back({"apiVersion", fmt::format("must be arl.infra.io/v1alpha1, got \"{}\"", api)});
  try {
    std::vector<FieldError> more;
    if (kind == "WarmPool") more = validate(warm_pool_from_json(obj));
    else if (kind == "Sandbox") {
      more = validate(sandbox_from_json(obj));
      auto settings = validate_settings(sandbox_settings_from_json(obj));
      more.insert(more.end(), settings.begin(), settings.end());
      if (auto fork = fork_of_from_json(obj)) {
        auto fork_errs = validate_fork(*fork, obj.contains("metadata") ? obj["metadata"].value("name", "") : "");
        more.insert(more.end(), fork_errs.begin(), fork_errs.end());
      }
    }
    else if (kind == "Task") more = validate(task_from_json(obj));
    else more.push_back({"kind", fmt::format("unknown kind \"{}\": expected WarmPool, Sandbox or Task", kind)});
    errs.insert(errs.end(), more.begin(), more.end());
  } catch (const Error& e) {
    std::string msg = e.what();
    auto colon = msg.find(": ");
    if (colon == std::string::npos) errs.push_back({"", msg});
    else errs.push_back({msg.substr(0, colon), msg.substr(colon + 2)});
  }
  return errs;
}

void throw_if_invalid(const std::string& what, const std::vector<FieldError>& errors) {
  if (errors.empty()) return;
  std::string msg = what;
  for (const auto& e : errors) msg += "\n  " + e.to_string();
  throw Error(ErrorCode::invalid, msg);
}

}  // namespace arl::core
