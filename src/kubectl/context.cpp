#include "kubectl/context.h"

#include <unistd.h>

#include <iostream>

#include <CLI/CLI.hpp>

#include "core/duration.h"
#include "core/error.h"
#include "k8s/kubeconfig.h"
#include "k8s/rest_client.h"

namespace arl::kubectl {

PluginContext::PluginContext() : out_(&std::cout), err_(&std::cerr), interactive_(::isatty(STDERR_FILENO) == 1) {}
PluginContext::~PluginContext() = default;

void PluginContext::inject(std::shared_ptr<k8s::KubeApi> api, std::ostream* out, std::ostream* err,
                           bool interactive) {
  api_ = std::move(api);
  out_ = out;
  err_ = err;
  interactive_ = interactive;
  config_namespace_ = "default";
}

k8s::KubeApi& PluginContext::api() {
  if (!api_) {
    auto cfg = k8s::load_client_config(flags.kubeconfig, flags.context);
    config_namespace_ = cfg.namespace_.empty() ? "default" : cfg.namespace_;
    k8s::RestOptions opts;
    opts.user_agent = "kubectl-arl";
    // A CLI should fail fast when the cluster is unreachable rather than
    // retry for half a minute as the operator does.
    opts.max_retries = 2;
    rest_ = std::make_shared<k8s::RestClient>(std::move(cfg), opts);
    api_ = rest_;
  }
  return *api_;
}

k8s::RestClient& PluginContext::rest() {
  api();
  if (!rest_) throw Error(ErrorCode::internal, "this command needs a connection to a real API server");
  return *rest_;
}

std::string PluginContext::ns() {
  if (!flags.namespace_.empty()) return flags.namespace_;
  api();
  return config_namespace_.empty() ? "default" : config_namespace_;
}

std::string PluginContext::list_ns() { return flags.all_namespaces ? "" : ns(); }

OutputFormat PluginContext::output_format() const { return parse_output_format(flags.output); }

PrintOptions PluginContext::print_options() const {
  PrintOptions p;
  p.format = output_format();
  p.no_headers = flags.no_headers;
  p.with_namespace = flags.all_namespaces;
  return p;
}

std::chrono::milliseconds PluginContext::timeout_or(std::chrono::milliseconds fallback) const {
  if (flags.timeout.empty()) return fallback;
  if (flags.timeout == "0") return std::chrono::milliseconds{0};
  try {
    return core::parse_duration(flags.timeout, "--timeout");
  } catch (const Error& e) {
    throw Error(ErrorCode::usage, std::string(e.what()) + " (use e.g. 30s, 5m, 1h)");
  }
}

std::ostream& PluginContext::out() { return *out_; }
std::ostream& PluginContext::err() { return *err_; }

CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description,
                      const std::string& examples) {
  auto* cmd = parent.add_subcommand(name, description);
  cmd->fallthrough(true);
  if (!examples.empty()) cmd->footer("Examples:\n" + examples);
  return cmd;
}

void add_output_flags(CLI::App& cmd, PluginContext& ctx) {
  cmd.add_option("-o,--output", ctx.flags.output, "Output format: table|wide|json|yaml|name")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml", "name"}));
  cmd.add_flag("--no-headers", ctx.flags.no_headers, "Do not print the header row of tables");
}

void add_all_namespaces_flag(CLI::App& cmd, PluginContext& ctx) {
  cmd.add_flag("-A,--all-namespaces", ctx.flags.all_namespaces, "List across all namespaces");
}

}  // namespace arl::kubectl
