#pragma once
// Small pieces every plugin command group uses: get-or-fail, list/get/delete
// printing, K=V flags.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kubectl/context.h"
#include "kubectl/output.h"
#include "k8s/kube_api.h"

namespace arl::kubectl {

/// The object, or Error{not_found} worded as kubectl does
/// (`warmpools.arl.infra.io "p1" not found`).
nlohmann::json get_required(k8s::KubeApi& api, const k8s::Resource& r, const std::string& ns,
                            const std::string& name);

/// `list`: prints the objects (or "No resources found in NS namespace." on stderr).
void print_list(PluginContext& ctx, const k8s::Resource& r, const KindView& view);
/// `get NAME...`: prints the named objects; a missing one is an error after
/// the others were printed, as kubectl does.
void print_get(PluginContext& ctx, const k8s::Resource& r, const KindView& view,
               const std::vector<std::string>& names);
/// Before an object is deleted: a line to print as `Warning: ...` on stderr
/// ("" for none), as kubectl prints the API server's warnings.
using DeleteWarning = std::function<std::string(const nlohmann::json& obj)>;

/// `delete NAME...`: `warmpool.arl.infra.io "p1" deleted` per object, after
/// `warning`'s line when it has one (the object is read first only then).
void delete_named(PluginContext& ctx, const k8s::Resource& r, const KindView& view,
                  const std::vector<std::string>& names, const DeleteWarning& warning = {});

/// What `list`, `get` and `delete` need to know about a kind.
struct ObjectCommands {
  const k8s::Resource& resource;
  KindView view;
  std::string plural;        // "warm pools": used in the help texts
  std::string example_name;  // "py": used in the examples
  std::string delete_description;
  DeleteWarning delete_warning = {};
};

/// Adds `list` (alias ls), `get NAME...` and `delete NAME...` (alias rm) to a
/// command group, so every kind answers them the same way.
void add_object_commands(CLI::App& group, std::shared_ptr<PluginContext> ctx, const ObjectCommands& kind);

/// K=V pairs of a repeated flag; Error{usage} naming `flag` on a bad one.
std::map<std::string, std::string> parse_key_values(const std::vector<std::string>& pairs, const std::string& flag);

/// `sandbox.arl.infra.io/NAME created` and friends.
std::string action_line(const KindView& view, const nlohmann::json& obj, const std::string& verb);

}  // namespace arl::kubectl
