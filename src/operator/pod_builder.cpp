#include "operator/pod_builder.h"

#include <openssl/rand.h>

#include <fmt/format.h>

#include "core/error.h"
#include "core/names.h"

namespace arl::op {

using nlohmann::json;

namespace {

json& ensure_array(json& parent, const char* key) {
  if (!parent.contains(key) || !parent[key].is_array()) parent[key] = json::array();
  return parent[key];
}

bool has_named(const json& list, std::string_view name) {
  for (const auto& item : list)
    if (item.value("name", "") == name) return true;
  return false;
}

// The init container only copies a file into an emptyDir (mode 0777), so it
// runs with nothing: every field Pod Security "restricted" asks of a
// container, so a compliant template stays compliant after injection. An
// explicit non-root user, because the FROM-scratch image names none and
// runAsNonRoot alone would refuse to start it.
json init_security_context() {
  return {{"allowPrivilegeEscalation", false},
          {"capabilities", {{"drop", {"ALL"}}}},
          {"privileged", false},
          {"readOnlyRootFilesystem", true},
          {"runAsNonRoot", true},
          {"runAsUser", kInitUser},
          {"runAsGroup", kInitUser},
          {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

// The emptyDir named `volume`, or {} when it is another kind of volume.
json empty_dir_of(const json& volumes, const std::string& volume) {
  for (const auto& v : volumes)
    if (v.value("name", "") == volume && v.contains("emptyDir") && v["emptyDir"].is_object()) return v["emptyDir"];
  return json::object();
}

}  // namespace

std::string random_suffix(size_t n) {
  static constexpr char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // as Kubernetes: no vowels, no confusables
  std::string out(n, 'x');
  unsigned char bytes[64];
  RAND_bytes(bytes, static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) out[i] = kAlphabet[bytes[i] % (sizeof(kAlphabet) - 1)];
  return out;
}

std::string random_token() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error(ErrorCode::internal, "cannot generate a random sidecar token");
  std::string hex;
  for (unsigned char b : bytes) hex += fmt::format("{:02x}", b);
  return hex;
}

json controller_ref(const json& owner) {
  return json{{"apiVersion", owner.value("apiVersion", std::string(kApiVersion))},
              {"kind", owner.value("kind", "")},
              {"name", owner["metadata"].value("name", "")},
              {"uid", owner["metadata"].value("uid", "")},
              {"controller", true},
              {"blockOwnerDeletion", true}};
}

std::string pool_secret_name(const std::string& pool) { return std::string(kPoolSecretPrefix) + pool; }

json build_pool_secret(const json& pool, const std::string& token) {
  const std::string name = pool["metadata"].value("name", "");
  return json{{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata",
               {{"name", pool_secret_name(name)},
                {"namespace", pool["metadata"].value("namespace", "")},
                // No ownerReference to the pool: the garbage collector would
                // delete the token with the pool while sandboxes still use it
                // (pool_secret_plan.h says when the operator deletes it).
                {"labels", {{std::string(labels::kWarmPool), name}}}}},
              {"type", "Opaque"},
              {"stringData", {{std::string(kPoolSecretKey), token}}}};
}

json build_pool_pod(const json& pool, const PodBuildOptions& opts) {
  const json& meta = pool.at("metadata");
  const std::string pool_name = meta.value("name", "");
  json tmpl = pool.at("spec").value("template", json::object());
  json pod_meta = tmpl.value("metadata", json::object());
  json spec = tmpl.value("spec", json::object());
  if (!spec.contains("containers") || !spec["containers"].is_array() || spec["containers"].empty())
    throw Error(ErrorCode::invalid, fmt::format("warmpools \"{}\": spec.template.spec.containers: at least one container is required", pool_name));

  pod_meta.erase("name");
  pod_meta.erase("generateName");
  pod_meta["name"] = pool_name + "-" + (opts.name_suffix.empty() ? random_suffix() : opts.name_suffix);
  pod_meta["namespace"] = meta.value("namespace", "");
  if (!pod_meta.contains("labels") || !pod_meta["labels"].is_object()) pod_meta["labels"] = json::object();
  pod_meta["labels"][std::string(labels::kWarmPool)] = pool_name;
  pod_meta["labels"][std::string(labels::kWarmPoolShort)] = pool_name;
  pod_meta["labels"][std::string(labels::kPodState)] = std::string(labels::kPodStateReady);
  pod_meta["ownerReferences"] = json::array({controller_ref(pool)});

  json& volumes = ensure_array(spec, "volumes");
  if (!has_named(volumes, kBinVolume)) volumes.push_back({{"name", kBinVolume}, {"emptyDir", json::object()}});
  if (!has_named(volumes, kWorkspaceVolume)) volumes.push_back({{"name", kWorkspaceVolume}, {"emptyDir", json::object()}});

  json& inits = ensure_array(spec, "initContainers");
  inits.insert(inits.begin(), json{{"name", kInitContainer},
                                   {"image", opts.arl_image},
                                   {"command", {"/arl", "sidecar", "copy-self", "/arl-bin/arl"}},
                                   {"volumeMounts", {{{"name", kBinVolume}, {"mountPath", "/arl-bin"}}}},
                                   {"securityContext", init_security_context()}});

  json& exec = spec["containers"][0];
  exec["command"] = json::array({"/arl-bin/arl", "sidecar"});
  exec.erase("args");
  json& mounts = ensure_array(exec, "volumeMounts");
  mounts.push_back({{"name", kBinVolume}, {"mountPath", "/arl-bin"}, {"readOnly", true}});
  // The template's own volume at /workspace, else ours.
  std::string workspace_volume;
  for (const auto& m : mounts)
    if (m.value("mountPath", "") == kDefaultWorkDir) workspace_volume = m.value("name", "");
  if (workspace_volume.empty()) {
    workspace_volume = kWorkspaceVolume;
    mounts.push_back({{"name", kWorkspaceVolume}, {"mountPath", kDefaultWorkDir}});
  }
  // Checkpoints on the workdir's medium: a fork or restore copies between the
  // two, and on a tmpfs workdir a store on the node's disk would make every
  // import pay for disk writes (creating 1,000 files on this VM's ext4 took
  // 650 ms against 18 ms on tmpfs). An emptyDir also keeps them across a
  // restart of the container, as the store expects of an explicit root.
  if (!has_named(volumes, kCheckpointVolume)) {
    json medium = json::object();
    const json ws = empty_dir_of(volumes, workspace_volume);
    if (ws.contains("medium")) medium["medium"] = ws["medium"];
    volumes.push_back({{"name", kCheckpointVolume}, {"emptyDir", medium}});
  }
  mounts.push_back({{"name", kCheckpointVolume}, {"mountPath", kCheckpointDir}});
  json& ports = ensure_array(exec, "ports");
  ports.push_back({{"name", kSidecarPortName}, {"containerPort", kSidecarPort}, {"protocol", "TCP"}});
  // Measured on a kubelet 1.33 node (bench/node_bench.py): this probe never fails on a cold pod,
  // because the kubelet runs it at once on the first status sync that sees the container
  // running, and the executor listens by then; Ready follows "running" by ~10 ms. A startupProbe
  // only adds a tick. The cold path's cost is the kubelet's PLEG relist (1 s) once per container
  // start, the init container included.
  exec["readinessProbe"] = {{"httpGet", {{"path", "/health"}, {"port", kSidecarPort}}},
                            {"periodSeconds", 1},
                            {"failureThreshold", 1}};
  json& env = ensure_array(exec, "env");
  env.push_back({{"name", "ARL_SIDECAR_TOKEN"},
                 {"valueFrom", {{"secretKeyRef", {{"name", pool_secret_name(pool_name)}, {"key", kPoolSecretKey}}}}}});
  env.push_back({{"name", "ARL_SIDECAR_WORKDIR"}, {"value", kDefaultWorkDir}});
  if (!has_named(env, "ARL_SIDECAR_CHECKPOINT_DIR")) env.push_back({{"name", "ARL_SIDECAR_CHECKPOINT_DIR"}, {"value", kCheckpointDir}});

  return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", pod_meta}, {"spec", spec}};
}

}  // namespace arl::op
