#include "k8s/kubeconfig.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/base64.h"
#include "core/error.h"
#include "core/read_file.h"

namespace arl::k8s {
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p, const std::string& what) { return core::read_file(p.string(), what); }

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// One named entry (cluster, user or context) and the file it came from, so a
// relative path in it resolves against that file's directory.
struct Entry {
  YAML::Node node;
  fs::path file;
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;
};

void merge_list(const YAML::Node& root, const char* list, const char* inner, const fs::path& file,
                std::map<std::string, Entry>& into) {
  YAML::Node seq = root[list];
  if (!seq || seq.IsNull()) return;
  if (!seq.IsSequence()) throw Error(ErrorCode::invalid, file.string() + ": field '" + list + "' must be a list");
  for (size_t i = 0; i < seq.size(); ++i) {
    YAML::Node item = seq[i];
    std::string name = item["name"] ? item["name"].as<std::string>("") : "";
    if (name.empty())
      throw Error(ErrorCode::invalid, file.string() + ": " + list + "[" + std::to_string(i) + "].name is missing");
    YAML::Node body = item[inner];
    if (!into.count(name)) into[name] = Entry{body ? body : YAML::Node(YAML::NodeType::Map), file};
  }
}

void merge_file(const fs::path& file, Merged& m) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::BadFile&) {
    throw Error(ErrorCode::not_found, "kubeconfig " + file.string() + " cannot be read: check the path or KUBECONFIG");
  } catch (const YAML::Exception& e) {
    throw Error(ErrorCode::invalid, "kubeconfig " + file.string() + " is not valid YAML: " + e.what());
  }
  if (root.IsNull()) return;  // an empty file contributes nothing, as with kubectl
  if (!root.IsMap()) throw Error(ErrorCode::invalid, "kubeconfig " + file.string() + " is not a YAML mapping");
  m.files.push_back(file.string());
  merge_list(root, "clusters", "cluster", file, m.clusters);
  merge_list(root, "users", "user", file, m.users);
  merge_list(root, "contexts", "context", file, m.contexts);
  if (m.current_context.empty() && root["current-context"])
    m.current_context = root["current-context"].as<std::string>("");
}

std::string str(const YAML::Node& n, const char* key) {
  YAML::Node v = n[key];
  if (!v || v.IsNull()) return "";
  return v.as<std::string>("");
}

// `<key>-data` (base64) wins over `<key>` (a file path), as in kubectl.
std::string data_or_file(const Entry& e, const std::string& key, const std::string& where) {
  std::string data = str(e.node, (key + "-data").c_str());
  if (!data.empty()) return core::base64_decode(data, e.file.string() + ": " + where + "." + key + "-data");
  std::string path = str(e.node, key.c_str());
  if (path.empty()) return "";
  fs::path p(path);
  if (p.is_relative()) p = e.file.parent_path() / p;
  return read_file(p, e.file.string() + ": " + where + "." + key);
}

std::vector<fs::path> kubeconfig_files(const std::string& path) {
  std::vector<fs::path> out;
  if (!path.empty()) {
    out.emplace_back(path);
    return out;
  }
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string s(env);
    size_t start = 0;
    while (start <= s.size()) {
      size_t end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      std::string part = s.substr(start, end - start);
      // Missing files in KUBECONFIG are skipped, as kubectl does.
      if (!part.empty() && fs::exists(part)) out.emplace_back(part);
      start = end + 1;
    }
    if (out.empty()) throw Error(ErrorCode::not_found, "none of the files in KUBECONFIG=" + s + " exists");
    return out;
  }
  const char* home = std::getenv("HOME");
  out.emplace_back(fs::path(home ? home : "/") / ".kube" / "config");
  return out;
}

}  // namespace

ClusterConfig load_kubeconfig(const std::string& path, const std::string& context) {
  Merged m;
  for (const auto& f : kubeconfig_files(path)) merge_file(f, m);
  std::string src;
  for (const auto& f : m.files) src += (src.empty() ? "" : ":") + f;
  if (src.empty()) src = path.empty() ? "kubeconfig" : path;

  std::string ctx_name = context.empty() ? m.current_context : context;
  if (ctx_name.empty())
    throw Error(ErrorCode::invalid, src + ": no current-context is set; pass --context or run `kubectl config use-context`");
  auto ctx_it = m.contexts.find(ctx_name);
  if (ctx_it == m.contexts.end()) throw Error(ErrorCode::not_found, src + ": context \"" + ctx_name + "\" not found");
  const Entry& ctx = ctx_it->second;

  ClusterConfig cfg;
  cfg.context = ctx_name;
  cfg.source = src;
  std::string ns = str(ctx.node, "namespace");
  if (!ns.empty()) cfg.namespace_ = ns;

  std::string cluster_name = str(ctx.node, "cluster");
  auto cl_it = m.clusters.find(cluster_name);
  if (cluster_name.empty() || cl_it == m.clusters.end())
    throw Error(ErrorCode::not_found,
                ctx.file.string() + ": contexts[" + ctx_name + "].cluster \"" + cluster_name + "\" not found");
  const Entry& cl = cl_it->second;
  std::string where = "clusters[" + cluster_name + "]";
  cfg.server = str(cl.node, "server");
  if (cfg.server.empty()) throw Error(ErrorCode::invalid, cl.file.string() + ": " + where + ".server is missing");
  while (!cfg.server.empty() && cfg.server.back() == '/') cfg.server.pop_back();
  cfg.insecure_skip_tls_verify = cl.node["insecure-skip-tls-verify"] && cl.node["insecure-skip-tls-verify"].as<bool>(false);
  cfg.ca_pem = data_or_file(cl, "certificate-authority", where);

  std::string user_name = str(ctx.node, "user");
  if (!user_name.empty()) {
    auto u_it = m.users.find(user_name);
    if (u_it == m.users.end())
      throw Error(ErrorCode::not_found, ctx.file.string() + ": contexts[" + ctx_name + "].user \"" + user_name + "\" not found");
    const Entry& u = u_it->second;
    std::string uw = "users[" + user_name + "]";
    cfg.client_cert_pem = data_or_file(u, "client-certificate", uw);
    cfg.client_key_pem = data_or_file(u, "client-key", uw);
    if (cfg.client_cert_pem.empty() != cfg.client_key_pem.empty())
      throw Error(ErrorCode::invalid, u.file.string() + ": " + uw + " needs both client-certificate and client-key");
    cfg.token = str(u.node, "token");
    std::string tf = str(u.node, "tokenFile");
    if (cfg.token.empty() && !tf.empty()) {
      fs::path p(tf);
      if (p.is_relative()) p = u.file.parent_path() / p;
      cfg.token_file = p.string();
      cfg.token = trim(read_file(p, u.file.string() + ": " + uw + ".tokenFile"));
    }
    if (u.node["exec"] || u.node["auth-provider"])
      if (cfg.token.empty() && cfg.client_cert_pem.empty())
        throw Error(ErrorCode::invalid, u.file.string() + ": " + uw +
                                            " uses exec/auth-provider credentials, which arl does not support; use a token or client certificate");
  }
  return cfg;
}

ClusterConfig in_cluster_config(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw Error(ErrorCode::not_found,
                "not running in a cluster (KUBERNETES_SERVICE_HOST/PORT unset) and no kubeconfig found: pass --kubeconfig or set KUBECONFIG");
  ClusterConfig cfg;
  std::string h(host);
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  cfg.server = "https://" + h + ":" + port;
  fs::path dir(sa_dir);
  cfg.token_file = (dir / "token").string();
  cfg.token = trim(read_file(dir / "token", "in-cluster service account token"));
  cfg.ca_pem = read_file(dir / "ca.crt", "in-cluster CA certificate");
  // Used in place: an operator pod's root filesystem is read-only, so the
  // REST client must not need to write a copy.
  cfg.ca_file = (dir / "ca.crt").string();
  if (fs::exists(dir / "namespace")) {
    std::string ns = trim(read_file(dir / "namespace", "in-cluster namespace"));
    if (!ns.empty()) cfg.namespace_ = ns;
  }
  cfg.source = "in-cluster";
  return cfg;
}

ClusterConfig load_client_config(const std::string& kubeconfig, const std::string& context) {
  if (!kubeconfig.empty()) return load_kubeconfig(kubeconfig, context);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) return load_kubeconfig("", context);
  const char* home = std::getenv("HOME");
  fs::path def = fs::path(home ? home : "/") / ".kube" / "config";
  if (fs::exists(def)) return load_kubeconfig(def.string(), context);
  return in_cluster_config();
}

}  // namespace arl::k8s
