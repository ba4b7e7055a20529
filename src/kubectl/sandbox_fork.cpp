#include "kubectl/sandbox_fork.h"

#include <fmt/format.h>

#include "core/error.h"
#include "core/fork_spec.h"
#include "core/names.h"
#include "core/validation.h"
#include "kubectl/common.h"
#include "kubectl/output.h"
#include "kubectl/proxy.h"
#include "kubectl/sandbox.h"

namespace arl::kubectl {

using nlohmann::json;

namespace {

struct ForkArgs {
  std::string source;
  int count = 1;
  std::string prefix;
  std::string checkpoint;
  bool wait = false;
};

// The one checkpoint every fork of this command copies, taken through the pod
// proxy: forks of one command start from the same instant of the source.
core::CheckpointInfo take_checkpoint(PluginContext& ctx, const std::string& ns, const std::string& source) {
  try {
    return sidecar_client(ctx, resolve_sandbox(ctx, ns, source)).checkpoint();
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("sandbox {}: taking the checkpoint to fork from failed: {} (list and free its "
                                      "checkpoints with `kubectl arl sandbox checkpoints {}` and `checkpoint-delete`, "
                                      "or name one with --checkpoint)",
                                      source, e.what(), source));
  }
}

}  // namespace

std::vector<json> fork_objects(const json& source, const std::string& checkpoint, int count, const std::string& prefix) {
  const json& meta = source.at("metadata");
  const std::string name = meta.value("name", "");
  json spec = json::object();
  const json src_spec = source.value("spec", json::object());
  for (const char* key : {"poolRef", "keepAlive", "ttlSecondsAfterFinished", "env", "workingDir"})
    if (src_spec.contains(key)) spec[key] = src_spec[key];
  spec["forkOf"] = core::to_json(core::ForkOf{name, checkpoint});
  std::vector<json> out;
  for (int i = 0; i < count; ++i) {
    json m{{"namespace", meta.value("namespace", "")}};
    if (prefix.empty()) m["generateName"] = name + "-fork-";
    else m["name"] = fmt::format("{}-{}", prefix, i);
    out.push_back({{"apiVersion", std::string(kApiVersion)}, {"kind", "Sandbox"}, {"metadata", m}, {"spec", spec}});
  }
  return out;
}

void add_fork_command(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx) {
  auto a = std::make_shared<ForkArgs>();
  auto* fork = add_command(
      sandbox, "fork", "Create sandboxes that start as copies of a live sandbox's workdir (the source keeps running)",
      "  kubectl arl sandbox fork my-sb --count 8 --wait\n"
      "  kubectl arl sandbox fork my-sb --count 4 --prefix branch --wait -o name\n"
      "  kubectl arl sandbox fork my-sb --checkpoint step-3\n\n"
      "Takes one checkpoint of SOURCE (unless --checkpoint names one of its checkpoints), then creates\n"
      "COUNT sandboxes with spec.forkOf. The operator gives each a warm pod of the source's pool; the\n"
      "new pod copies the checkpoint straight from the source's pod before the fork is Ready. Forks\n"
      "inherit the source's keepAlive, TTL, env and working dir. The checkpoint taken stays on the\n"
      "source (`kubectl arl sandbox checkpoints SOURCE`) so more forks can follow.\n");
  fork->add_option("source", a->source, "The sandbox to fork (Ready or Bound)")->required();
  fork->add_option("--count", a->count, "How many forks to create (default 1)")->check(CLI::Range(1, 1000));
  fork->add_option("--prefix", a->prefix, "Name the forks PREFIX-0, PREFIX-1, ... (default: generated, SOURCE-fork-xxxxx)");
  fork->add_option("--checkpoint", a->checkpoint, "Copy this checkpoint (id or name) of the source instead of taking a new one");
  fork->add_flag("--wait", a->wait, "Wait until every fork is Ready (copied)");
  add_output_flags(*fork, *ctx);
  fork->callback([ctx, a] {
    if (!a->checkpoint.empty() && !core::is_checkpoint_ref(a->checkpoint))
      throw Error(ErrorCode::usage, fmt::format("--checkpoint \"{}\": not a checkpoint id or name", a->checkpoint));
    if (!a->prefix.empty() && !core::is_dns1123_subdomain(a->prefix + "-" + std::to_string(a->count - 1)))
      throw Error(ErrorCode::usage, fmt::format("--prefix \"{}\": the forks' names ({}-0 ...) must be valid sandbox names "
                                                "(lower case letters, digits, '-')",
                                                a->prefix, a->prefix));
    const std::string ns = ctx->ns();
    auto source = ctx->api().get(k8s::resources::sandboxes, ns, a->source);
    if (!source) throw Error(ErrorCode::not_found, fmt::format("sandboxes.arl.infra.io \"{}\" not found", a->source));
    std::string checkpoint = a->checkpoint;
    if (checkpoint.empty()) {
      core::CheckpointInfo taken = take_checkpoint(*ctx, ns, a->source);
      checkpoint = taken.id;
      ctx->err() << fmt::format("checkpoint {} of sandbox {}: {} files, {} bytes in {:.0f} ms\n", checkpoint, a->source,
                                taken.files, taken.bytes, taken.duration_ms);
    }
    std::vector<json> created;
    for (auto& obj : fork_objects(*source, checkpoint, a->count, a->prefix)) {
      core::throw_if_invalid("Sandbox fork is invalid:", core::validate_object(obj));
      created.push_back(ctx->api().create(k8s::resources::sandboxes, ns, obj));
    }
    if (a->wait)
      for (auto& c : created) c = wait_sandbox_ready(*ctx, ns, c.value("/metadata/name"_json_pointer, std::string()));
    if (!ctx->flags.output.empty()) {
      ctx->out() << render_objects(created, sandbox_view(), ctx->print_options(), created.size() == 1);
      return;
    }
    for (const auto& c : created) ctx->out() << action_line(sandbox_view(), c, "created") << "\n";
  });
}

}  // namespace arl::kubectl
