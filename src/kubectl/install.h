#pragma once
// Helpers of `install`, `uninstall` and `version`, exposed for tests.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kubectl/manifest.h"
#include "k8s/kube_api.h"

namespace arl::kubectl {

/// The API resource of a manifest from its apiVersion and kind (plural by
/// English rules, cluster scope for the cluster-wide kinds ARL ships).
k8s::Resource resource_for(const nlohmann::json& obj);

/// Manifests in apply order: kustomization.yaml's `resources` when present,
/// else every *.yaml of the directory, sorted.
std::vector<SourceDoc> load_install_manifests(const std::string& dir);

/// The manifests/ compiled into the binary, in kustomization order.
std::vector<SourceDoc> load_embedded_manifests();
/// `dir` when given, else $ARL_MANIFESTS, else the embedded copy.
std::vector<SourceDoc> manifests_to_apply(const std::string& dir);

/// Replaces the container image and `--image=` argument of a Deployment.
void set_operator_image(nlohmann::json& obj, const std::string& image);

/// "ghcr.io/arl/arl:0.1.0" -> "0.1.0" (a leading v dropped; no tag: "latest").
std::string image_version(const std::string& image);

const k8s::Resource& deployments();

}  // namespace arl::kubectl
