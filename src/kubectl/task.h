#pragma once
// Task helpers, exposed for tests.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kubectl/manifest.h"

namespace arl::kubectl {

/// Where the operator keeps a step's full output in the sandbox pod.
std::string task_output_path(const std::string& task, const std::string& step, const std::string& stream);

/// Fills kind/apiVersion when absent and applies --sandbox to every Task.
void prepare_task_documents(std::vector<SourceDoc>& docs, const std::string& sandbox);

/// Succeeded or Failed.
bool task_finished(const nlohmann::json& task);

}  // namespace arl::kubectl
