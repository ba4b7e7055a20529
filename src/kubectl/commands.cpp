// `kubectl arl`: the plugin's command tree. Global flags live on the plugin
// app; every subcommand lets unknown options fall through to it, so they can
// be typed anywhere on the line as with kubectl.
#include <memory>

#include <CLI/CLI.hpp>

#include "kubectl/commands.h"
#include "kubectl/context.h"

namespace arl::kubectl {

void add_plugin_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx) {
  auto& f = ctx->flags;
  app.add_option("-n,--namespace", f.namespace_, "Namespace (default: the kubeconfig context's namespace)");
  app.add_option("--context", f.context, "The kubeconfig context to use");
  app.add_option("--kubeconfig", f.kubeconfig, "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config)");
  app.add_option("--timeout", f.timeout, "How long to wait for --wait, --follow and exec (e.g. 30s, 5m; 0: forever)");
  app.footer(
      "Examples:\n"
      "  kubectl arl pool create py --image python:3.12-slim --replicas 3\n"
      "  kubectl arl sandbox create --pool py --wait\n"
      "  kubectl arl sandbox exec sb-x7k2p -- python -c 'print(42)'\n"
      "  kubectl arl task run -f task.yaml --wait\n"
      "  kubectl arl task logs my-task\n\n"
      "Global flags (-n, --context, --kubeconfig, --timeout) can be given after any command.");
  add_pool_commands(app, ctx);
  add_sandbox_commands(app, ctx);
  add_task_commands(app, ctx);
  add_admin_commands(app, ctx);
  add_mcp_command(app, ctx);
  add_completion_command(app);
}

void add_plugin_commands(CLI::App& app) { add_plugin_commands(app, std::make_shared<PluginContext>()); }

}  // namespace arl::kubectl
