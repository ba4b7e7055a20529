#include "operator/fork_source.h"

#include <map>

#include <fmt/format.h>

namespace arl::op {

using nlohmann::json;

namespace {

// container name -> image of a pool's pod template: what "the same image" means.
std::map<std::string, std::string> images_of(const json& pool) {
  std::map<std::string, std::string> images;
  const json* containers = &pool;
  for (const char* key : {"spec", "template", "spec", "containers"}) {
    if (!containers->is_object() || !containers->contains(key)) return images;
    containers = &(*containers)[key];
  }
  if (!containers->is_array()) return images;
  for (const auto& c : *containers)
    if (c.is_object()) images[c.value("name", "")] = c.value("image", "");
  return images;
}

std::string describe(const std::map<std::string, std::string>& images) {
  std::string out;
  for (const auto& [name, image] : images) out += (out.empty() ? "" : ", ") + name + "=" + image;
  return out.empty() ? "none" : out;
}

}  // namespace

ResolvedFork resolve_fork(const core::ForkOf& fork_of, const json& fork, const std::optional<json>& source,
                          const std::optional<json>& fork_pool, const std::optional<json>& source_pool) {
  const std::string ns = fork["metadata"].value("namespace", "");
  const std::string name = fork["metadata"].value("name", "");
  auto fail = [](std::string reason, std::string message) {
    return ResolvedFork{std::nullopt, ForkFailure{std::move(reason), std::move(message)}};
  };
  if (!source || (*source)["metadata"].contains("deletionTimestamp"))
    return fail("ForkSourceNotFound", fmt::format("spec.forkOf.sandbox: sandbox {}/{} does not exist; fork an existing sandbox "
                                                  "(kubectl arl sandbox list)",
                                                  ns, fork_of.sandbox));
  const json status = source->value("status", json::object());
  const std::string phase = status.is_object() ? status.value("phase", "") : "";
  const std::string pod_ip = status.is_object() ? status.value("podIP", "") : "";
  if ((phase != "Ready" && phase != "Bound") || pod_ip.empty())
    return fail("ForkSourceNotReady",
                fmt::format("spec.forkOf.sandbox: sandbox {}/{} is {}, not Ready; fork it once it is Ready "
                            "(kubectl arl sandbox get {})",
                            ns, fork_of.sandbox, phase.empty() ? "Pending" : phase, fork_of.sandbox));
  const std::string source_pool_name = (*source)["spec"].value("poolRef", "");
  const std::string fork_pool_name = fork["spec"].value("poolRef", "");
  if (source_pool_name != fork_pool_name) {
    if (!fork_pool || !source_pool)
      return fail("ForkImageMismatch",
                  fmt::format("spec.poolRef: pool {} differs from pool {} of the source sandbox {} and one of them does not "
                              "exist, so their images cannot be compared; fork into the source's pool",
                              fork_pool_name, source_pool_name, fork_of.sandbox));
    auto mine = images_of(*fork_pool), theirs = images_of(*source_pool);
    if (mine != theirs)
      return fail("ForkImageMismatch", fmt::format("spec.poolRef: pool {} runs {}, pool {} of the source sandbox {} runs {}; "
                                                   "a fork needs the same images (fork into pool {})",
                                                   fork_pool_name, describe(mine), source_pool_name, fork_of.sandbox,
                                                   describe(theirs), source_pool_name));
  }
  return ResolvedFork{ForkSource{fork_of.sandbox, source_pool_name, pod_ip, fork_of.checkpoint}, std::nullopt};
}

}  // namespace arl::op
