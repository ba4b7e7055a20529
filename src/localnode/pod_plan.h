#pragma once
// Pure translation of a pod object into the host process the local node runs
// for it: argv, environment, bind mounts and the readiness probe. No system
// calls here, so every rule is unit-tested (tests/localnode/pod_plan_test.cpp).
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace arl::localnode {

using json = nlohmann::json;

struct Probe {
  enum class Kind { none, http, tcp };
  Kind kind = Kind::none;
  int port = 0;
  std::string path = "/";
};

struct BindMount {
  std::string source;  // host directory ("" for a tmpfs)
  std::string target;  // path seen by the process
  bool read_only = false;
  /// emptyDir {medium: Memory}: a tmpfs mounted in the pod's own mount
  /// namespace, freed with it. Unlike a kubelet's, it does not outlive a
  /// container restart (the process is the pod here); what it buys is
  /// tmpfs's file creation, ~40x ext4's on this kind of VM (a fork's cost).
  bool tmpfs = false;
};

struct ProcessPlan {
  std::string container;
  std::string image;
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;  // in order, names unique
  std::vector<BindMount> mounts;
  std::string working_dir;  // empty: the pod dir
  Probe readiness;
  std::vector<std::string> notes;  // parts of the spec the local node ignores, for the log
};

struct PlanInputs {
  std::string pod_dir;     // state-dir/pods/NS_NAME
  std::string arl_binary;  // replaces /arl-bin/arl
  std::string pod_ip;
  std::string host_ip;
  std::string node_name;
};

/// Data of a Secret ("Secret") or ConfigMap ("ConfigMap") in the pod's
/// namespace, already base64-decoded; nullopt when it does not exist.
using DataLookup =
    std::function<std::optional<std::map<std::string, std::string>>(const std::string& kind, const std::string& name)>;

/// The command the injected executor container runs; mapped to the agent's own binary.
inline constexpr const char* kInjectedArl = "/arl-bin/arl";

/// The waiting reason of a pod whose first container has no command.
inline constexpr const char* kNoCommandReason = "LocalNodeNeedsCommand";

/// Why the local node cannot start the pod's first container because it has
/// no command (an image's entrypoint is unknown to a host process); nullopt
/// when it has one or when the pod has no containers (plan_pod reports that).
std::optional<std::string> no_command_reason(const json& pod);

/// Builds the plan for the pod's FIRST container. Throws Error{invalid} for a
/// pod the local node cannot run (no containers, no command) and
/// Error{not_found} for a missing non-optional Secret/ConfigMap or key (the
/// caller retries, as a kubelet does with CreateContainerConfigError).
ProcessPlan plan_pod(const json& pod, const PlanInputs& in, const DataLookup& lookup);

/// The readiness probe of a container (httpGet or tcpSocket; exec is not
/// run: none). `where` names it in errors. Throws Error{invalid} for a port
/// that names no container port.
Probe readiness_probe_of(const json& container, const std::string& where);

/// Kubernetes' $(VAR) expansion: defined names are replaced, $$ escapes, an
/// undefined $(VAR) stays as written.
std::string expand_vars(const std::string& s, const std::map<std::string, std::string>& vars);

/// "ns/name" of a pod and the file-system-safe "ns_name" used under state-dir/pods.
std::string pod_key(const json& pod);
std::string pod_file_stem(const std::string& ns, const std::string& name);

}  // namespace arl::localnode
