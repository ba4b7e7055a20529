// `arl operator`: the reconciler of WarmPool, Sandbox and Task.
#include <csignal>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <thread>

#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/signals.h"
#include "core/error.h"
#include "core/log.h"
#include "k8s/kubeconfig.h"
#include "k8s/rest_client.h"
#include "operator/operator.h"
#include "operator/step_runner.h"

namespace arl::cmd {

void add_operator_command(CLI::App& app) {
  struct Flags {
    std::string kubeconfig, context, log_format = "text";
    bool verbose = false;
    op::OperatorOptions opts;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* sub = app.add_subcommand("operator", "Run the ARL operator (reconciles WarmPool, Sandbox and Task)");
  sub->footer(
      "Examples:\n"
      "  # against the cluster of your kubeconfig, all namespaces\n"
      "  arl operator --image ghcr.io/arl/arl:0.1.0\n"
      "  # one namespace, JSON logs, leader election (several replicas)\n"
      "  arl operator -n agents --log-format json --leader-elect\n");
  sub->add_option("--kubeconfig", flags->kubeconfig, "Path to a kubeconfig (default: $KUBECONFIG, ~/.kube/config, in-cluster)");
  sub->add_option("--context", flags->context, "kubeconfig context to use");
  sub->add_option("-n,--namespace", flags->opts.watch_namespace, "Only watch this namespace (default: all)");
  sub->add_option("--workers", flags->opts.workers, "Reconcile workers")->check(CLI::Range(1, 256))->capture_default_str();
  sub->add_option("--image", flags->opts.config.arl_image, "Image whose /arl the init container copies into pool pods")
      ->capture_default_str();
  sub->add_option("--metrics-addr", flags->opts.metrics_addr, "Prometheus /metrics address (\"0\" disables)")->capture_default_str();
  sub->add_option("--health-addr", flags->opts.health_addr, "/healthz and /readyz address (\"0\" disables)")->capture_default_str();
  sub->add_flag("--leader-elect", flags->opts.leader_elect, "Hold a coordination.k8s.io Lease so only one replica reconciles");
  CLI::Option* lease_ns = sub->add_option("--leader-elect-namespace", flags->opts.leader_namespace,
                                          "Namespace of the Lease (default: $POD_NAMESPACE, else arl-system)");
  sub->add_flag("-v,--verbose", flags->verbose, "Log every reconcile (debug level)");
  sub->add_option("--log-format", flags->log_format, "Log format")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
  sub->callback([flags, lease_ns] {
    log::set_format(flags->log_format == "json" ? log::Format::json : log::Format::text);
    log::set_verbose(flags->verbose);
#if defined(__GLIBC__)
    // Sixteen workers would otherwise get an allocator arena each, and each
    // keeps the memory of the JSON it once parsed: RSS grows with the workers.
    mallopt(M_ARENA_MAX, 2);
#endif
    if (const char* ns = std::getenv("POD_NAMESPACE"); ns && *ns && lease_ns->count() == 0) flags->opts.leader_namespace = ns;
    k8s::RestOptions rest;
    rest.max_idle_connections = static_cast<size_t>(flags->opts.workers) * 2;  // workers + pod-create fan-out
    rest.user_agent = "arl-operator";
    k8s::RestClient client(k8s::load_client_config(flags->kubeconfig, flags->context), rest);
    op::Operator oper(client, flags->opts, op::sidecar_runner_factory());
    std::stop_source stop;
    stop_on_signals(stop);
    oper.run(stop.get_token());
  });
}

}  // namespace arl::cmd
