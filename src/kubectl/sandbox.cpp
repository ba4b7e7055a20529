// `kubectl arl sandbox create|list|get|delete` (exec and cp: plugin_exec.cpp).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "kubectl/common.h"
#include "kubectl/context.h"
#include "kubectl/sandbox.h"
#include "kubectl/sandbox_fork.h"
#include "kubectl/sandbox_settings_flags.h"
#include "kubectl/sandbox_trajectory.h"
#include "kubectl/wait.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/names.h"
#include "core/validation.h"

namespace arl::kubectl {
namespace {

using nlohmann::json;

struct SandboxCreateArgs {
  std::string name;
  std::string pool;
  bool keep_alive = false;
  std::string ttl;
  bool wait = false;
  SandboxSettingsFlags settings;
};

}  // namespace

json sandbox_from_flags(const std::string& name, const std::string& pool, bool keep_alive, const std::string& ttl,
                        const std::string& ns) {
  json meta = {{"namespace", ns}};
  if (name.empty())
    meta["generateName"] = pool + "-";  // the server picks the suffix; the name is printed
  else
    meta["name"] = name;
  json spec = {{"poolRef", pool}, {"keepAlive", keep_alive}};
  if (!ttl.empty()) {
    std::chrono::milliseconds d;
    try {
      d = core::parse_duration(ttl, "--ttl");
    } catch (const Error& e) {
      throw Error(ErrorCode::usage, std::string(e.what()) + " (use e.g. 10m, 1h)");
    }
    spec["ttlSecondsAfterFinished"] = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  }
  return {{"apiVersion", std::string(kApiVersion)}, {"kind", "Sandbox"}, {"metadata", meta}, {"spec", spec}};
}

json wait_sandbox_ready(PluginContext& ctx, const std::string& ns, const std::string& name,
                        std::function<void(const json&)> on_change) {
  WaitSpec w;
  w.resource = &k8s::resources::sandboxes;
  w.ns = ns;
  w.name = name;
  w.what = "sandbox " + name;
  w.done = [&](const json& o) {
    auto phase = o.value("/status/phase"_json_pointer, std::string());
    if (phase == "Failed" || phase == "Released") {
      std::string msg;
      for (const auto& c : o.value("/status/conditions"_json_pointer, json::array()))
        if (c.value("message", "") != "") msg = c.value("message", "");
      throw Error(ErrorCode::unavailable,
                  fmt::format("sandbox {} is {}{}", name, phase, msg.empty() ? "" : ": " + msg));
    }
    return phase == "Ready" || phase == "Bound";
  };
  w.describe = [](const json& o) { return o.value("/status/phase"_json_pointer, std::string("Pending")); };
  w.on_change = std::move(on_change);
  w.timeout = ctx.timeout_or(std::chrono::minutes(5));
  w.interactive = ctx.interactive();
  w.progress = &ctx.err();
  return wait_for(ctx.api(), w);
}

void add_sandbox_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx) {
  auto* sandbox = add_command(app, "sandbox", "Manage sandboxes (one warm pod each) and run commands in them",
                              "  kubectl arl sandbox create --pool py --wait\n"
                              "  kubectl arl sandbox exec my-sb -- python -c 'print(1+1)'\n"
                              "  kubectl arl sandbox cp ./data.csv my-sb:/workspace/data.csv\n");
  sandbox->alias("sb");
  sandbox->require_subcommand(1);

  auto a = std::make_shared<SandboxCreateArgs>();
  auto* create = add_command(*sandbox, "create", "Allocate a sandbox from a warm pool (prints its name)",
                             "  kubectl arl sandbox create --pool py\n"
                             "  kubectl arl sandbox create agent-7 --pool py --keep-alive --ttl 1h --wait\n"
                             "  SB=$(kubectl arl sandbox create --pool py --wait -o name)\n"
                             "  kubectl arl sandbox create ep-7 --pool py --env TASK_ID=t-7 --env SEED=42 --workdir repo\n"
                             "  kubectl arl sandbox create --pool py --env-from-secret API_KEY=creds:api-key \\\n"
                             "      --env-from-configmap MODE=settings:mode --wait\n");
  create->add_option("name", a->name, "Sandbox name (default: generated from the pool name)");
  create->add_option("--pool", a->pool, "The warm pool to take a pod from")->required();
  create->add_flag("--keep-alive", a->keep_alive, "Keep the sandbox after its first task (default: released)");
  create->add_option("--ttl", a->ttl, "Delete the sandbox after it has been idle this long (e.g. 30m, 1h)");
  create->add_flag("--wait", a->wait, "Wait until a pod is allocated (phase Ready)");
  // One value per use of a repeatable flag: otherwise CLI11 lets --env swallow
  // the positional NAME that follows it (`--env A=1 my-sb`).
  create->add_option("--env", a->settings.env, "Environment variable of the sandbox's commands and task steps (repeatable)")
      ->type_name("NAME=VALUE")
      ->allow_extra_args(false);
  create->add_option("--env-from-secret", a->settings.env_from_secret,
                     "Environment variable from a key of a Secret in the sandbox's namespace, read at allocation (repeatable)")
      ->type_name("NAME=SECRET:KEY")
      ->allow_extra_args(false);
  create->add_option("--env-from-configmap", a->settings.env_from_configmap,
                     "Environment variable from a key of a ConfigMap in the sandbox's namespace, read at allocation (repeatable)")
      ->type_name("NAME=CONFIGMAP:KEY")
      ->allow_extra_args(false);
  create->add_option("--workdir", a->settings.workdir,
                     "Default working directory of the sandbox's commands and task steps: relative to /workspace or under it")
      ->type_name("DIR");
  add_output_flags(*create, *ctx);
  create->callback([ctx, a] {
    // Flags are checked before the kubeconfig is read: a typo is a usage error
    // whether or not a cluster is reachable.
    auto obj = sandbox_from_flags(a->name, a->pool, a->keep_alive, a->ttl, "");
    apply_settings_flags(obj, a->settings);
    core::throw_if_invalid(fmt::format("Sandbox \"{}\" is invalid:", a->name), core::validate_object(obj));
    const std::string ns = ctx->ns();
    obj["metadata"]["namespace"] = ns;
    auto created = ctx->api().create(k8s::resources::sandboxes, ns, obj);
    const std::string name = created.value("/metadata/name"_json_pointer, std::string());
    if (a->wait) created = wait_sandbox_ready(*ctx, ns, name);
    if (!ctx->flags.output.empty())
      ctx->out() << render_objects({created}, sandbox_view(), ctx->print_options(), true);
    else
      ctx->out() << action_line(sandbox_view(), created, "created") << "\n";
  });

  add_object_commands(*sandbox, ctx, {k8s::resources::sandboxes, sandbox_view(), "sandboxes", "my-sb",
                                      "Delete sandboxes (their pods are deleted, never reused)"});

  add_exec_commands(*sandbox, ctx);
  add_api_command(*sandbox, ctx);
  add_fork_command(*sandbox, ctx);
  add_checkpoint_commands(*sandbox, ctx);
  add_history_command(*sandbox, ctx);
  add_replay_command(*sandbox, ctx);
}

}  // namespace arl::kubectl
