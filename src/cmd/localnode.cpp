// `arl localnode`: the node agent for machines without a kubelet (tests and
// trying ARL locally). Local only, not isolated: see src/localnode/node_agent.h.
#include <signal.h>

#include <stop_token>
#include <thread>

#include <CLI/CLI.hpp>

#include "cmd/commands.h"
#include "cmd/signals.h"
#include "core/log.h"
#include "k8s/kubeconfig.h"
#include "k8s/rest_client.h"
#include "localnode/node_agent.h"

namespace arl::cmd {

namespace {

struct LocalnodeFlags {
  std::string kubeconfig;
  std::string log_format = "text";
  localnode::AgentOptions agent;
};

void run_localnode(const LocalnodeFlags& f) {
  log::set_format(f.log_format == "json" ? log::Format::json : log::Format::text);
  // Before any thread exists, so only the signal thread sees SIGTERM/SIGINT;
  // pod processes get an empty mask in the child.
  std::stop_source stop;
  stop_on_signals(stop);
  signal(SIGPIPE, SIG_IGN);

  k8s::RestOptions ro;
  ro.max_idle_connections = static_cast<size_t>(f.agent.workers) + 4;
  ro.user_agent = "arl-localnode";
  k8s::RestClient api(k8s::load_client_config(f.kubeconfig), ro);
  localnode::NodeAgent agent(api, f.agent);

  agent.run(stop.get_token());
}

}  // namespace

void add_localnode_command(CLI::App& app) {
  auto flags = std::make_shared<LocalnodeFlags>();
  auto* cmd = app.add_subcommand(
      "localnode",
      "Local node agent for clusters without kubelets (LOCAL USE ONLY, NOT ISOLATED): binds pods to itself and "
      "runs each pod's first container as a host process in a network namespace of its own");
  cmd->add_option("--kubeconfig", flags->kubeconfig, "kubeconfig file (default: $KUBECONFIG, ~/.kube/config)");
  cmd->add_option("--node-name", flags->agent.node_name, "name of the Node object to register")
      ->capture_default_str();
  cmd->add_option("--netns", flags->agent.netns, "network namespace the agent creates for its pods")
      ->capture_default_str();
  cmd->add_option("--pod-cidr", flags->agent.pod_cidr,
                  "pod addresses; must lie inside 198.18.0.0/15 (host end of the veth: the first address)")
      ->capture_default_str();
  cmd->add_option("--state-dir", flags->agent.state_dir, "pod directories, logs (pods/NS_NAME.log) and pid files")
      ->capture_default_str();
  cmd->add_option("--arl-binary", flags->agent.arl_binary,
                  "binary run for the injected /arl-bin/arl command (default: this executable)");
  cmd->add_option("--workers", flags->agent.workers, "pods synced in parallel (API writes in flight)")
      ->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--max-pods", flags->agent.max_pods,
                  "pod capacity the Node reports (default: every address of --pod-cidr)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--log-format", flags->log_format, "Log format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->callback([flags] { run_localnode(*flags); });
}

}  // namespace arl::cmd
