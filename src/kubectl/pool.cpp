// `kubectl arl pool ...`: WarmPools.
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "kubectl/common.h"
#include "kubectl/context.h"
#include "kubectl/manifest.h"
#include "kubectl/wait.h"
#include "core/error.h"
#include "core/names.h"
#include "core/validation.h"

namespace arl::kubectl {
namespace {

using nlohmann::json;

struct PoolCreateArgs {
  std::string name;
  std::string image;
  int64_t replicas = 1;
  std::string cpu;
  std::string memory;
  std::vector<std::string> env;
  std::string file;
  bool wait = false;
};

json pool_from_flags(const PoolCreateArgs& a, const std::string& ns) {
  json container = {{"name", "main"}, {"image", a.image}};
  if (!a.cpu.empty() || !a.memory.empty()) {
    json req = json::object();
    if (!a.cpu.empty()) req["cpu"] = a.cpu;
    if (!a.memory.empty()) req["memory"] = a.memory;
    // Requests = limits: a sandbox gets what it asked for and no more, so
    // one busy agent cannot starve its neighbours.
    container["resources"] = {{"requests", req}, {"limits", req}};
  }
  if (!a.env.empty()) {
    json env = json::array();
    for (const auto& [k, v] : parse_key_values(a.env, "--env")) env.push_back({{"name", k}, {"value", v}});
    container["env"] = env;
  }
  return {{"apiVersion", std::string(kApiVersion)},
          {"kind", "WarmPool"},
          {"metadata", {{"name", a.name}, {"namespace", ns}}},
          {"spec", {{"replicas", a.replicas}, {"template", {{"spec", {{"containers", json::array({container})}}}}}}}};
}

bool pool_ready(const json& p) {
  auto want = p.value("/spec/replicas"_json_pointer, int64_t{0});
  return p.value("/status/readyReplicas"_json_pointer, int64_t{0}) >= want;
}

std::string pool_state(const json& p) {
  return fmt::format("{}/{} ready", p.value("/status/readyReplicas"_json_pointer, int64_t{0}),
                     p.value("/spec/replicas"_json_pointer, int64_t{0}));
}

json wait_pool(PluginContext& ctx, const json& pool) {
  WaitSpec w;
  w.resource = &k8s::resources::warm_pools;
  w.ns = pool.value("/metadata/namespace"_json_pointer, ctx.ns());
  w.name = pool.value("/metadata/name"_json_pointer, std::string());
  w.what = "warmpool " + w.name;
  w.done = pool_ready;
  w.describe = pool_state;
  w.timeout = ctx.timeout_or(std::chrono::minutes(5));
  w.interactive = ctx.interactive();
  w.progress = &ctx.err();
  return wait_for(ctx.api(), w);
}

// The same words as the ValidatingAdmissionPolicy in
// manifests/warmpool-delete-warning.yaml, so `kubectl delete warmpool` and
// `kubectl arl pool delete` say one thing.
std::string pool_delete_warning(const json& pool) {
  int64_t allocated = pool.value("/status/allocatedReplicas"_json_pointer, int64_t{0});
  if (allocated <= 0) return "";
  return fmt::format("warmpool \"{}\" still has {} allocated sandbox(es): they keep their pods and keep working until released or deleted",
                     pool["metadata"].value("name", ""), allocated);
}

void print_created(PluginContext& ctx, const json& obj, bool explicit_output) {
  if (explicit_output)
    ctx.out() << render_objects({obj}, pool_view(), ctx.print_options(), true);
  else
    ctx.out() << action_line(pool_view(), obj, "created") << "\n";
}

void pool_create(PluginContext& ctx, const PoolCreateArgs& a) {
  std::vector<json> pools;
  if (!a.file.empty()) {
    if (!a.image.empty() || !a.name.empty())
      throw Error(ErrorCode::usage, "pool create: give either -f FILE or NAME --image IMAGE, not both");
    auto docs = read_manifests(a.file, std::cin);
    if (docs.empty()) throw Error(ErrorCode::invalid, fmt::format("{}: no WarmPool documents found", a.file));
    throw_if_problems(validate_documents(docs, {"WarmPool"}));
    for (auto& d : docs) pools.push_back(d.value);
  } else {
    if (a.name.empty()) throw Error(ErrorCode::usage, "pool create: NAME is required (or -f FILE)");
    if (a.image.empty()) throw Error(ErrorCode::usage, "pool create: --image is required (or -f FILE)");
    auto pool = pool_from_flags(a, "");
    core::throw_if_invalid(fmt::format("WarmPool \"{}\" is invalid:", a.name), core::validate_object(pool));
    pool["metadata"]["namespace"] = ctx.ns();
    pools.push_back(pool);
  }
  const bool explicit_output = !ctx.flags.output.empty();
  for (auto& p : pools) {
    std::string ns = p.value("/metadata/namespace"_json_pointer, std::string());
    if (ns.empty()) ns = ctx.ns();
    auto created = ctx.api().create(k8s::resources::warm_pools, ns, p);
    if (a.wait) created = wait_pool(ctx, created);
    print_created(ctx, created, explicit_output);
  }
}

}  // namespace

void add_pool_commands(CLI::App& app, std::shared_ptr<PluginContext> ctx) {
  auto* pool = add_command(app, "pool", "Manage warm pools of pre-created sandbox pods",
                           "  kubectl arl pool create py --image python:3.12-slim --replicas 3\n"
                           "  kubectl arl pool list\n"
                           "  kubectl arl pool scale py --replicas 10\n");
  pool->require_subcommand(1);

  auto args = std::make_shared<PoolCreateArgs>();
  auto* create = add_command(*pool, "create", "Create a warm pool from flags or from a file",
                             "  kubectl arl pool create py --image python:3.12-slim --replicas 3\n"
                             "  kubectl arl pool create py --image python:3.12-slim --cpu 500m --memory 512Mi "
                             "--env PIP_NO_CACHE_DIR=1\n"
                             "  kubectl arl pool create -f pool.yaml --wait\n");
  create->add_option("name", args->name, "Name of the pool");
  create->add_option("--image", args->image, "Container image of the sandbox pods (any image: ARL injects its executor)");
  create->add_option("--replicas", args->replicas, "Idle pods to keep warm")->check(CLI::NonNegativeNumber);
  create->add_option("--cpu", args->cpu, "CPU request and limit per pod (e.g. 500m)");
  create->add_option("--memory", args->memory, "Memory request and limit per pod (e.g. 512Mi)");
  create->add_option("--env", args->env, "Environment variable K=V of the sandbox container (repeatable)")
      ->allow_extra_args(false);
  create->add_option("-f,--filename", args->file, "WarmPool manifest file ('-' for stdin)");
  create->add_flag("--wait", args->wait, "Wait until every replica is ready");
  add_output_flags(*create, *ctx);
  create->callback([ctx, args] { pool_create(*ctx, *args); });

  add_object_commands(*pool, ctx, {k8s::resources::warm_pools, pool_view(), "warm pools", "py",
                                   "Delete warm pools and their idle pods (allocated sandboxes keep working)", pool_delete_warning});

  auto scale_name = std::make_shared<std::string>();
  auto scale_replicas = std::make_shared<int64_t>(-1);
  auto* scale = add_command(*pool, "scale", "Change how many idle pods a pool keeps warm",
                            "  kubectl arl pool scale py --replicas 10\n");
  scale->add_option("name", *scale_name, "Pool name")->required();
  scale->add_option("--replicas", *scale_replicas, "Idle pods to keep warm")->required()->check(CLI::NonNegativeNumber);
  scale->callback([ctx, scale_name, scale_replicas] {
    auto patched = ctx->api().patch(k8s::resources::warm_pools, ctx->ns(), *scale_name, k8s::PatchType::merge,
                                    {{"spec", {{"replicas", *scale_replicas}}}});
    ctx->out() << action_line(pool_view(), patched, "scaled") << "\n";
  });
}

}  // namespace arl::kubectl
