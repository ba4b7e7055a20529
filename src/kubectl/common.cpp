#include "kubectl/common.h"

#include <ostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/error.h"
#include "k8s/status_error.h"

namespace arl::kubectl {

void add_object_commands(CLI::App& group, std::shared_ptr<PluginContext> ctx, const ObjectCommands& kind) {
  const std::string cmd = "  kubectl arl " + group.get_name();
  auto* list = add_command(group, "list", "List " + kind.plural,
                           fmt::format("{0} list\n{0} list -A -o wide\n", cmd));
  list->alias("ls");
  add_output_flags(*list, *ctx);
  add_all_namespaces_flag(*list, *ctx);
  list->callback([ctx, kind] { print_list(*ctx, kind.resource, kind.view); });

  auto names = std::make_shared<std::vector<std::string>>();
  auto* get = add_command(group, "get", "Show " + kind.plural,
                          fmt::format("{0} get {1}\n{0} get {1} -o yaml\n", cmd, kind.example_name));
  get->add_option("names", *names, "Names of the " + kind.plural)->required();
  add_output_flags(*get, *ctx);
  get->callback([ctx, kind, names] { print_get(*ctx, kind.resource, kind.view, *names); });

  auto del_names = std::make_shared<std::vector<std::string>>();
  auto* del = add_command(group, "delete", kind.delete_description, fmt::format("{} delete {}\n", cmd, kind.example_name));
  del->alias("rm");
  del->add_option("names", *del_names, "Names of the " + kind.plural)->required();
  del->callback([ctx, kind, del_names] { delete_named(*ctx, kind.resource, kind.view, *del_names, kind.delete_warning); });
}

nlohmann::json get_required(k8s::KubeApi& api, const k8s::Resource& r, const std::string& ns,
                            const std::string& name) {
  auto obj = api.get(r, ns, name);
  if (!obj) throw Error(ErrorCode::not_found, fmt::format("{} \"{}\" not found", k8s::qualified_plural(r), name));
  return *obj;
}

void print_list(PluginContext& ctx, const k8s::Resource& r, const KindView& view) {
  auto opts = ctx.print_options();
  const std::string ns = ctx.list_ns();
  auto result = ctx.api().list(r, ns);
  if (result.items.empty() && (opts.format == OutputFormat::table || opts.format == OutputFormat::wide)) {
    if (ns.empty())
      ctx.err() << "No resources found\n";
    else
      ctx.err() << "No resources found in " << ns << " namespace.\n";
    return;
  }
  ctx.out() << render_objects(result.items, view, opts);
}

void print_get(PluginContext& ctx, const k8s::Resource& r, const KindView& view,
               const std::vector<std::string>& names) {
  auto opts = ctx.print_options();
  const std::string ns = ctx.ns();
  std::vector<nlohmann::json> found;
  std::vector<std::string> missing;
  for (const auto& n : names) {
    auto obj = ctx.api().get(r, ns, n);
    if (obj)
      found.push_back(std::move(*obj));
    else
      missing.push_back(n);
  }
  if (!found.empty()) ctx.out() << render_objects(found, view, opts, names.size() == 1);
  if (!missing.empty()) {
    std::string msg;
    for (const auto& n : missing)
      msg += fmt::format("{}{} \"{}\" not found", msg.empty() ? "" : "\n", k8s::qualified_plural(r), n);
    throw Error(ErrorCode::not_found, msg);
  }
}

void delete_named(PluginContext& ctx, const k8s::Resource& r, const KindView& view,
                  const std::vector<std::string>& names, const DeleteWarning& warning) {
  const std::string ns = ctx.ns();
  std::vector<std::string> missing;
  for (const auto& n : names) {
    if (warning)
      if (auto obj = ctx.api().get(r, ns, n))
        if (std::string w = warning(*obj); !w.empty()) ctx.err() << "Warning: " << w << "\n";
    k8s::DeleteOptions opts;
    opts.propagation_policy = "Background";
    if (ctx.api().remove(r, ns, n, opts))
      ctx.out() << fmt::format("{}.{} \"{}\" deleted\n", view.kind_lower, view.group, n);
    else
      missing.push_back(n);
  }
  if (!missing.empty()) {
    std::string msg;
    for (const auto& n : missing)
      msg += fmt::format("{}{} \"{}\" not found", msg.empty() ? "" : "\n", k8s::qualified_plural(r), n);
    throw Error(ErrorCode::not_found, msg);
  }
}

std::map<std::string, std::string> parse_key_values(const std::vector<std::string>& pairs, const std::string& flag) {
  std::map<std::string, std::string> out;
  for (const auto& p : pairs) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error(ErrorCode::usage, fmt::format("{} \"{}\": expected KEY=VALUE", flag, p));
    out[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return out;
}

std::string action_line(const KindView& view, const nlohmann::json& obj, const std::string& verb) {
  return qualified_name(view, obj) + " " + verb;
}

}  // namespace arl::kubectl
