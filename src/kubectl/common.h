#pragma once
// Small pieces every plugin command group uses: get-or-fail, list/get/delete
// printing, K=V flags.
#include <map>
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
/// `delete NAME...`: `warmpool.arl.infra.io "p1" deleted` per object.
void delete_named(PluginContext& ctx, const k8s::Resource& r, const KindView& view,
                  const std::vector<std::string>& names);

/// K=V pairs of a repeated flag; Error{usage} naming `flag` on a bad one.
std::map<std::string, std::string> parse_key_values(const std::vector<std::string>& pairs, const std::string& flag);

/// `sandbox.arl.infra.io/NAME created` and friends.
std::string action_line(const KindView& view, const nlohmann::json& obj, const std::string& verb);

}  // namespace arl::kubectl
