#pragma once
// State shared by every `kubectl arl` command: the global flags and the
// client built from them. Commands take a PluginContext so unit tests can
// run them against an in-memory FakeKube and capture what they print.
#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>

#include "kubectl/output.h"
#include "k8s/kube_api.h"

namespace CLI {
class App;
}

namespace arl::k8s {
class RestClient;
}

namespace arl::kubectl {

struct GlobalFlags {
  std::string namespace_;   // -n; empty: the kubeconfig context's namespace
  bool all_namespaces = false;
  std::string context;
  std::string kubeconfig;
  std::string output;       // -o
  std::string timeout;      // --timeout: how long to wait (waits, follows, exec)
  bool no_headers = false;
};

class PluginContext {
 public:
  PluginContext();
  ~PluginContext();

  GlobalFlags flags;

  /// The API client (built on first use from --kubeconfig/--context).
  k8s::KubeApi& api();
  /// The HTTPS client, needed for pod-proxy calls; throws Error{internal}
  /// when an injected test API is in use.
  k8s::RestClient& rest();
  /// The namespace to use: -n, else the context's namespace, else "default".
  std::string ns();
  /// "" with -A, else ns().
  std::string list_ns();

  OutputFormat output_format() const;
  PrintOptions print_options() const;
  /// --timeout parsed, or `fallback` when unset.
  std::chrono::milliseconds timeout_or(std::chrono::milliseconds fallback) const;

  std::ostream& out();
  std::ostream& err();
  /// Progress lines only when stderr is a terminal (never when piped).
  bool interactive() const { return interactive_; }

  /// For tests: use this API and these streams; nothing is read from disk.
  void inject(std::shared_ptr<k8s::KubeApi> api, std::ostream* out, std::ostream* err, bool interactive = false);

 private:
  std::shared_ptr<k8s::KubeApi> api_;
  std::shared_ptr<k8s::RestClient> rest_;
  std::string config_namespace_;
  std::ostream* out_;
  std::ostream* err_;
  bool interactive_;
};

/// Adds every plugin command to `app`, sharing `ctx` (what add_plugin_commands
/// does with a fresh context; tests call this with an injected one).
void add_plugin_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx);

/// A subcommand whose unknown options fall through to its parent, so global
/// flags work anywhere on the line as with kubectl (`pool list -n ns`).
CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description,
                      const std::string& examples = "");
/// -o and --no-headers on a command that prints objects.
void add_output_flags(CLI::App& cmd, PluginContext& ctx);
/// -A on list commands.
void add_all_namespaces_flag(CLI::App& cmd, PluginContext& ctx);

// Command groups (one file each).
void add_pool_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx);
void add_sandbox_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx);
void add_exec_commands(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx);  // exec, cp
void add_api_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx);    // api
// checkpoint, checkpoints, restore, checkpoint-delete, export, import
void add_checkpoint_commands(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx);
void add_task_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx);
void add_admin_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx);     // version, install, uninstall
void add_completion_command(CLI::App& app);
void add_mcp_command(CLI::App& app, std::shared_ptr<PluginContext> ctx);         // mcp
/// The bash/zsh script `completion` prints, from the command tree under `root`.
std::string completion_script(const CLI::App& root, const std::string& shell);

}  // namespace arl::kubectl
