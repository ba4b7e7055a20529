// `kubectl arl version|install|uninstall`.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "build_info.h"
#include "kubectl/install.h"
#include "kubectl/common.h"
#include "kubectl/context.h"
#include "kubectl/manifest.h"
#include "kubectl/wait.h"
#include "core/error.h"
#include "core/read_file.h"
#include "core/yaml.h"
#include "embedded_manifests.h"

namespace arl::kubectl {

using nlohmann::json;
namespace fs = std::filesystem;

k8s::Resource resource_for(const json& obj) {
  const std::string api_version = obj.value("apiVersion", "");
  const std::string kind = obj.value("kind", "");
  if (api_version.empty() || kind.empty())
    throw Error(ErrorCode::invalid, "every manifest needs apiVersion and kind");
  k8s::Resource r;
  auto slash = api_version.find('/');
  if (slash == std::string::npos) {
    r.version = api_version;
  } else {
    r.group = api_version.substr(0, slash);
    r.version = api_version.substr(slash + 1);
  }
  r.kind = kind;
  std::string lower = kind;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.back() == 'y')
    r.plural = lower.substr(0, lower.size() - 1) + "ies";
  else if (lower.back() == 's')
    r.plural = lower + "es";
  else
    r.plural = lower + "s";
  // Without discovery (one more round trip per kind), the cluster-scoped kinds a manifest of
  // ours may hold; everything else is namespaced.
  static const char* kClusterScoped[] = {"Namespace", "CustomResourceDefinition", "ClusterRole",
                                         "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                                         "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
                                         "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                                         "PriorityClass", "IngressClass"};
  r.namespaced = std::none_of(std::begin(kClusterScoped), std::end(kClusterScoped),
                              [&](const char* k) { return kind == k; });
  return r;
}

std::vector<SourceDoc> load_install_manifests(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(ErrorCode::not_found,
                fmt::format("manifests directory {} not found; pass --manifests DIR (the repository's manifests/)", dir));
  std::vector<std::string> files;
  const auto kustomization = fs::path(dir) / "kustomization.yaml";
  if (fs::exists(kustomization, ec)) {
    auto docs = core::parse_yaml_documents(core::read_file(kustomization.string(), "manifests"), kustomization.string());
    if (!docs.empty() && docs[0].value.contains("resources"))
      for (const auto& r : docs[0].value["resources"]) files.push_back((fs::path(dir) / r.get<std::string>()).string());
  } else {
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_regular_file() && e.path().extension() == ".yaml") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
  }
  std::vector<SourceDoc> out;
  for (const auto& f : files) {
    auto docs = read_manifests(f, std::cin);
    out.insert(out.end(), docs.begin(), docs.end());
  }
  return out;
}

std::vector<SourceDoc> load_embedded_manifests() {
  std::vector<SourceDoc> out;
  for (const auto& m : embedded::kManifests) {
    std::string source = "embedded:manifests/" + std::string(m.name);
    for (auto& d : core::parse_yaml_documents(m.text, source)) {
      SourceDoc doc;
      doc.value = std::move(d.value);
      doc.source = source;
      doc.line = d.line;
      out.push_back(std::move(doc));
    }
  }
  return out;
}

std::vector<SourceDoc> manifests_to_apply(const std::string& dir) {
  // The binary's own copy unless a directory is named: install always
  // matches the operator version this plugin was built with.
  if (!dir.empty()) return load_install_manifests(dir);
  if (const char* env = std::getenv("ARL_MANIFESTS"); env && *env) return load_install_manifests(env);
  return load_embedded_manifests();
}

void set_operator_image(json& obj, const std::string& image) {
  if (obj.value("kind", "") != "Deployment") return;
  auto* containers = &obj["spec"]["template"]["spec"]["containers"];
  if (!containers->is_array()) return;
  for (auto& c : *containers) {
    c["image"] = image;
    if (c.contains("args") && c["args"].is_array())
      for (auto& a : c["args"])
        if (a.is_string() && a.get<std::string>().rfind("--image=", 0) == 0) a = "--image=" + image;
  }
}

namespace {

std::string display_name(const json& obj) {
  std::string kind = obj.value("kind", "");
  std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return std::tolower(c); });
  std::string api = obj.value("apiVersion", "");
  auto slash = api.find('/');
  std::string group = slash == std::string::npos ? "" : api.substr(0, slash);
  return (group.empty() ? kind : kind + "." + group) + "/" + obj.value("/metadata/name"_json_pointer, std::string());
}

void wait_crd_established(PluginContext& ctx, const std::string& name) {
  WaitSpec w;
  w.resource = &k8s::resources::crds;
  w.name = name;
  w.what = "CRD " + name;
  w.done = [](const json& o) {
    for (const auto& c : o.value("/status/conditions"_json_pointer, json::array()))
      if (c.value("type", "") == "Established" && c.value("status", "") == "True") return true;
    return false;
  };
  w.describe = [](const json&) { return std::string("not established"); };
  w.timeout = ctx.timeout_or(std::chrono::seconds(60));
  w.interactive = ctx.interactive();
  w.progress = &ctx.err();
  wait_for(ctx.api(), w);
}

struct InstallArgs {
  std::string manifests;
  std::string image;
  bool dry_run = false;
};

void install(PluginContext& ctx, const InstallArgs& a) {
  auto docs = manifests_to_apply(a.manifests);
  for (auto& d : docs) {
    json obj = d.value;
    if (!obj.is_object()) continue;
    if (!a.image.empty()) set_operator_image(obj, a.image);
    auto r = resource_for(obj);
    const std::string name = obj.value("/metadata/name"_json_pointer, std::string());
    const std::string ns = r.namespaced ? obj.value("/metadata/namespace"_json_pointer, ctx.ns()) : "";
    if (a.dry_run) {
      ctx.out() << display_name(obj) << " (dry run)\n";
      continue;
    }
    auto existing = ctx.api().get(r, ns, name);
    std::string verb;
    if (!existing) {
      ctx.api().create(r, ns, obj);
      verb = "created";
    } else {
      obj.erase("status");
      auto patched = ctx.api().patch(r, ns, name, k8s::PatchType::merge, obj);
      verb = patched.value("/metadata/resourceVersion"_json_pointer, std::string()) ==
                     existing->value("/metadata/resourceVersion"_json_pointer, std::string())
                 ? "unchanged"
                 : "configured";
    }
    ctx.out() << display_name(obj) << " " << verb << "\n" << std::flush;
    // Later commands (pool create) need the CRDs served, not just stored.
    if (r.kind == "CustomResourceDefinition") wait_crd_established(ctx, name);
  }
}

void uninstall(PluginContext& ctx, const std::string& dir) {
  auto docs = manifests_to_apply(dir);
  std::reverse(docs.begin(), docs.end());
  for (auto& d : docs) {
    if (!d.value.is_object()) continue;
    auto r = resource_for(d.value);
    const std::string name = d.value.value("/metadata/name"_json_pointer, std::string());
    const std::string ns = r.namespaced ? d.value.value("/metadata/namespace"_json_pointer, ctx.ns()) : "";
    k8s::DeleteOptions opts;
    opts.propagation_policy = "Background";
    bool removed = ctx.api().remove(r, ns, name, opts);
    ctx.out() << display_name(d.value) << (removed ? " deleted" : " not found") << "\n";
  }
}

void version(PluginContext& ctx, bool client_only, const std::string& operator_ns) {
  ctx.out() << fmt::format("Client Version: {} (commit {}, built {})\n", build::kVersion, build::kGitCommit,
                           build::kBuildDate);
  if (client_only) return;
  auto dep = ctx.api().get(deployments(), operator_ns, "arl-operator");
  if (!dep) {
    ctx.out() << fmt::format("Operator Version: not installed (no deployment arl-operator in namespace {}; "
                             "run `kubectl arl install`)\n",
                             operator_ns);
    return;
  }
  std::string image;
  auto containers = dep->value("/spec/template/spec/containers"_json_pointer, json::array());
  if (!containers.empty()) image = containers[0].value("image", "");
  ctx.out() << fmt::format("Operator Version: {} (image {}, {}/{} ready)\n", image_version(image), image,
                           dep->value("/status/readyReplicas"_json_pointer, int64_t{0}),
                           dep->value("/spec/replicas"_json_pointer, int64_t{1}));
}

}  // namespace

const k8s::Resource& deployments() {
  static const k8s::Resource r{"apps", "v1", "deployments", "Deployment", true};
  return r;
}

std::string image_version(const std::string& image) {
  auto at = image.find('@');
  std::string ref = at == std::string::npos ? image : image.substr(0, at);
  auto colon = ref.rfind(':');
  auto slash = ref.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash))
    return at == std::string::npos ? "latest" : image.substr(at + 1);
  std::string tag = ref.substr(colon + 1);
  if (!tag.empty() && tag[0] == 'v') tag.erase(0, 1);
  return tag;
}

void add_admin_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx) {
  auto client_only = std::make_shared<bool>(false);
  auto op_ns = std::make_shared<std::string>("arl-system");
  auto* ver = add_command(app, "version", "Print the client version and the operator's version",
                          "  kubectl arl version\n  kubectl arl version --client\n");
  ver->add_flag("--client", *client_only, "Only the client version (no cluster access)");
  ver->add_option("--operator-namespace", *op_ns, "Namespace of the operator Deployment")->capture_default_str();
  ver->callback([ctx, client_only, op_ns] { version(*ctx, *client_only, *op_ns); });

  auto a = std::make_shared<InstallArgs>();
  auto* inst = add_command(app, "install", "Install or upgrade ARL (CRDs, RBAC, operator) in the cluster; idempotent",
                           "  kubectl arl install\n"
                           "  kubectl arl install --manifests ./manifests --image registry.local/arl:dev\n");
  inst->add_option("--manifests", a->manifests,
                   "Directory of manifests (default: $ARL_MANIFESTS, else the copy built into this binary)");
  inst->add_option("--image", a->image, "Operator image (also injected into sandbox pods)");
  inst->add_flag("--dry-run", a->dry_run, "Only list what would be applied");
  inst->callback([ctx, a] { install(*ctx, *a); });

  auto dir = std::make_shared<std::string>();
  auto* un = add_command(app, "uninstall",
                         "Remove ARL from the cluster: operator, RBAC and the CRDs (which deletes every pool, "
                         "sandbox and task)",
                         "  kubectl arl uninstall\n");
  un->add_option("--manifests", *dir, "Directory of manifests (as for install)");
  un->callback([ctx, dir] { uninstall(*ctx, *dir); });
}

}  // namespace arl::kubectl
