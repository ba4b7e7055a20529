#include "localnode/pod_plan.h"

#include <cstdlib>
#include <set>

#include "core/error.h"
#include "core/json_view.h"
#include "core/names.h"

namespace arl::localnode {

namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::string str_at(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

// Keeps the first position of a name and the last value, as the kubelet
// does when env repeats a name.
class EnvList {
 public:
  void set(const std::string& name, const std::string& value) {
    auto it = index_.find(name);
    if (it == index_.end()) {
      index_[name] = items_.size();
      items_.emplace_back(name, value);
    } else {
      items_[it->second].second = value;
    }
    values_[name] = value;
  }
  const std::map<std::string, std::string>& values() const { return values_; }
  std::vector<std::pair<std::string, std::string>> take() { return std::move(items_); }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> values_;
};

int resolve_port(const json& port, const json& container, const std::string& where) {
  if (port.is_number_integer()) return port.get<int>();
  if (port.is_string()) {
    auto name = port.get<std::string>();
    for (const auto& p : container.value("ports", json::array())) {
      if (str_at(p, "name") == name) return p.value("containerPort", 0);
    }
    // A numeric string is how some clients write an int-or-string port.
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) return std::stoi(name);
    throw Error(ErrorCode::invalid, where + ": port name \"" + name + "\" is not among the container's ports");
  }
  throw Error(ErrorCode::invalid, where + ": port must be a number or a port name");
}

std::string field_ref(const json& pod, const std::string& path, const PlanInputs& in, const std::string& where) {
  const auto& meta = core::object_at(pod, "metadata");
  if (path == "metadata.name") return str_at(meta, "name");
  if (path == "metadata.namespace") return str_at(meta, "namespace");
  if (path == "metadata.uid") return str_at(meta, "uid");
  if (path == "spec.nodeName") return in.node_name;
  if (path == "spec.serviceAccountName") return str_at(pod.value("spec", json::object()), "serviceAccountName");
  if (path == "status.podIP" || path == "status.podIPs") return in.pod_ip;
  if (path == "status.hostIP" || path == "status.hostIPs") return in.host_ip;
  const std::string labels = "metadata.labels['", annotations = "metadata.annotations['";
  for (const auto& [prefix, field] : {std::pair{labels, "labels"}, std::pair{annotations, "annotations"}}) {
    if (path.rfind(prefix, 0) == 0 && path.size() > prefix.size() + 2 && path.substr(path.size() - 2) == "']") {
      auto key = path.substr(prefix.size(), path.size() - prefix.size() - 2);
      return str_at(meta.value(field, json::object()), key.c_str());
    }
  }
  throw Error(ErrorCode::invalid, where + ": fieldRef \"" + path + "\" is not supported by the local node");
}

std::optional<std::string> key_ref(const json& ref, const char* kind, const DataLookup& lookup,
                                   const std::string& where) {
  auto name = str_at(ref, "name");
  auto key = str_at(ref, "key");
  bool optional = ref.value("optional", false);
  auto data = lookup(kind, name);
  std::string lower = kind == std::string("Secret") ? "secret" : "configmap";
  if (!data) {
    if (optional) return std::nullopt;
    throw Error(ErrorCode::not_found, where + ": " + lower + " \"" + name + "\" not found");
  }
  auto it = data->find(key);
  if (it == data->end()) {
    if (optional) return std::nullopt;
    throw Error(ErrorCode::not_found, where + ": " + lower + " \"" + name + "\" has no key \"" + key + "\"");
  }
  return it->second;
}

void add_env_from(const json& container, EnvList& env, const DataLookup& lookup, const std::string& where) {
  for (const auto& src : container.value("envFrom", json::array())) {
    auto prefix = str_at(src, "prefix");
    for (const char* kind : {"Secret", "ConfigMap"}) {
      auto ref = src.find(kind == std::string("Secret") ? "secretRef" : "configMapRef");
      if (ref == src.end() || !ref->is_object()) continue;
      auto name = str_at(*ref, "name");
      auto data = lookup(kind, name);
      if (!data) {
        if (ref->value("optional", false)) continue;
        throw Error(ErrorCode::not_found, where + " envFrom: " + std::string(kind == std::string("Secret") ? "secret" : "configmap") +
                                              " \"" + name + "\" not found");
      }
      for (const auto& [k, v] : *data) env.set(prefix + k, v);
    }
  }
}

void add_env(const json& pod, const json& container, EnvList& env, const PlanInputs& in, const DataLookup& lookup,
             const std::string& where) {
  for (const auto& e : container.value("env", json::array())) {
    auto name = str_at(e, "name");
    if (name.empty()) continue;
    auto ew = where + " env " + name;
    if (auto vf = e.find("valueFrom"); vf != e.end() && vf->is_object()) {
      std::optional<std::string> value;
      if (auto s = vf->find("secretKeyRef"); s != vf->end()) {
        value = key_ref(*s, "Secret", lookup, ew);
      } else if (auto c = vf->find("configMapKeyRef"); c != vf->end()) {
        value = key_ref(*c, "ConfigMap", lookup, ew);
      } else if (auto f = vf->find("fieldRef"); f != vf->end()) {
        value = field_ref(pod, str_at(*f, "fieldPath"), in, ew);
      } else {
        throw Error(ErrorCode::invalid, ew + ": this valueFrom source is not supported by the local node");
      }
      if (value) env.set(name, *value);
    } else {
      // Values may refer to variables defined before them.
      env.set(name, expand_vars(str_at(e, "value"), env.values()));
    }
  }
}

void add_mounts(const json& pod, const json& container, const PlanInputs& in, ProcessPlan& plan) {
  std::map<std::string, json> volumes;
  for (const auto& v : pod["spec"].value("volumes", json::array())) volumes[str_at(v, "name")] = v;
  for (const auto& m : container.value("volumeMounts", json::array())) {
    auto name = str_at(m, "name");
    auto target = str_at(m, "mountPath");
    if (name == kBinVolume) continue;  // the binary is mapped, nothing to copy into it
    if (target.empty() || target[0] != '/') {
      plan.notes.push_back("volumeMount " + name + ": mountPath \"" + target + "\" is not absolute; skipped");
      continue;
    }
    auto vit = volumes.find(name);
    if (vit == volumes.end()) {
      throw Error(ErrorCode::invalid, "container " + plan.container + " volumeMount " + name +
                                          ": no volume of that name in spec.volumes");
    }
    const auto& vol = vit->second;
    BindMount bm;
    bm.target = target;
    bm.read_only = m.value("readOnly", false);
    if (vol.contains("emptyDir")) {
      const json& ed = vol["emptyDir"];
      bm.tmpfs = ed.is_object() && ed.value("medium", "") == "Memory" && str_at(m, "subPath").empty();
      if (!bm.tmpfs) bm.source = in.pod_dir + "/volumes/" + name;
    } else if (auto hp = vol.find("hostPath"); hp != vol.end() && hp->is_object()) {
      bm.source = str_at(*hp, "path");
    } else {
      plan.notes.push_back("volume " + name + ": only emptyDir and hostPath volumes are mounted by the local node");
      continue;
    }
    if (!bm.tmpfs && !str_at(m, "subPath").empty()) bm.source += "/" + str_at(m, "subPath");
    plan.mounts.push_back(std::move(bm));
  }
}

}  // namespace

Probe readiness_probe_of(const json& container, const std::string& where) {
  Probe probe;
  auto it = container.find("readinessProbe");
  if (it == container.end() || !it->is_object()) return probe;
  if (auto h = it->find("httpGet"); h != it->end() && h->is_object()) {
    probe.kind = Probe::Kind::http;
    probe.port = resolve_port(h->value("port", json()), container, where + " readinessProbe.httpGet");
    probe.path = str_at(*h, "path");
    if (probe.path.empty() || probe.path[0] != '/') probe.path = "/" + probe.path;
  } else if (auto t = it->find("tcpSocket"); t != it->end() && t->is_object()) {
    probe.kind = Probe::Kind::tcp;
    probe.port = resolve_port(t->value("port", json()), container, where + " readinessProbe.tcpSocket");
  }
  return probe;
}

std::string expand_vars(const std::string& s, const std::map<std::string, std::string>& vars) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    if (s[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (s[i + 1] == '(') {
      auto close = s.find(')', i + 2);
      if (close != std::string::npos) {
        auto name = s.substr(i + 2, close - i - 2);
        if (auto it = vars.find(name); it != vars.end()) {
          out += it->second;
          i = close;
          continue;
        }
        out += s.substr(i, close - i + 1);
        i = close;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string pod_key(const json& pod) {
  const auto& meta = core::object_at(pod, "metadata");
  return str_at(meta, "namespace") + "/" + str_at(meta, "name");
}

std::string pod_file_stem(const std::string& ns, const std::string& name) { return ns + "_" + name; }

std::optional<std::string> no_command_reason(const json& pod) {
  const auto& containers = pod.value("spec", json::object()).value("containers", json::array());
  if (containers.empty() || !containers[0].is_object()) return std::nullopt;
  const auto& command = containers[0].value("command", json::array());
  if (command.is_array() && !command.empty()) return std::nullopt;
  return "container " + str_at(containers[0], "name") + " has no command: the local node runs host processes and " +
         "cannot run the entrypoint of image " + str_at(containers[0], "image") +
         "; set spec.containers[0].command (e.g. [\"sleep\", \"infinity\"])";
}

ProcessPlan plan_pod(const json& pod, const PlanInputs& in, const DataLookup& lookup) {
  const auto key = pod_key(pod);
  const auto& spec = core::object_at(pod, "spec");
  const auto& containers = spec.value("containers", json::array());
  if (containers.empty() || !containers[0].is_object()) {
    throw Error(ErrorCode::invalid, "pod " + key + " has no containers");
  }
  const auto& c = containers[0];
  ProcessPlan plan;
  plan.container = str_at(c, "name");
  plan.image = str_at(c, "image");
  const auto where = "pod " + key + " container " + plan.container;
  if (containers.size() > 1) {
    plan.notes.push_back("only the first container (" + plan.container + ") runs on the local node");
  }

  EnvList env;
  // Pods are host processes here: after the usual container PATH, the
  // host's own PATH, so an image's tools (python ...) resolve to the host's.
  const char* host_path = std::getenv("PATH");
  env.set("PATH", host_path && *host_path ? std::string(kDefaultPath) + ":" + host_path : std::string(kDefaultPath));
  env.set("HOSTNAME", str_at(pod["metadata"], "name"));
  env.set("HOME", "/root");
  env.set("ARL_SIDECAR_WORKDIR", std::string(kDefaultWorkDir));
  add_env_from(c, env, lookup, where);
  add_env(pod, c, env, in, lookup, where);
  // All pods share the node's network namespace: each sidecar must bind its own IP.
  env.set("ARL_SIDECAR_LISTEN", in.pod_ip + ":" + std::to_string(kSidecarPort));

  std::vector<std::string> command;
  for (const auto& a : c.value("command", json::array())) command.push_back(a.get<std::string>());
  if (command.empty()) {
    throw Error(ErrorCode::invalid, where +
                                        " has no command: the local node runs host processes and cannot use an "
                                        "image's entrypoint; set spec.containers[0].command");
  }
  if (command[0] == kInjectedArl) command[0] = in.arl_binary;
  for (const auto& a : c.value("args", json::array())) command.push_back(a.get<std::string>());
  for (auto& a : command) a = expand_vars(a, env.values());
  plan.argv = std::move(command);

  add_mounts(pod, c, in, plan);
  plan.working_dir = str_at(c, "workingDir");
  if (plan.working_dir.empty()) {
    for (const auto& m : plan.mounts) {
      if (m.target == kDefaultWorkDir) plan.working_dir = std::string(kDefaultWorkDir);
    }
  }
  plan.readiness = readiness_probe_of(c, where);
  plan.env = env.take();
  return plan;
}

}  // namespace arl::localnode
