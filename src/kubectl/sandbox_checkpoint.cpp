// `kubectl arl sandbox checkpoint|checkpoints|restore|checkpoint-delete|export|import`:
// the sidecar's checkpoints (SPEC.md "Checkpoints") through the API server's
// pod proxy, like `sandbox exec`.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/checkpoint_import.h"
#include "core/error.h"
#include "core/names.h"
#include "k8s/pod_proxy_transport.h"
#include "k8s/rest_client.h"
#include "kubectl/context.h"
#include "kubectl/output.h"
#include "kubectl/proxy.h"

namespace arl::kubectl {
namespace {

struct CheckpointArgs {
  std::string sandbox, ref, name, file;
  bool kill_processes = false, restore = false;
};

void check_ref(const std::string& ref) {
  if (!core::is_checkpoint_ref(ref))
    throw Error(ErrorCode::usage, "checkpoint \"" + ref + "\": give an id or name from `kubectl arl sandbox checkpoints SANDBOX`");
}

std::string checkpoint_line(const nlohmann::json& info, const std::string& verb) {
  return fmt::format("checkpoint/{} {} (files {}, directories {}, bytes {}, {:.1f} ms)\n", info.value("id", ""), verb,
                     info.value("files", 0), info.value("directories", 0), info.value("bytes", 0),
                     info.value("duration_ms", 0.0));
}

std::string restored_line(const core::RestoreResponse& r) {
  return fmt::format("checkpoint/{} restored (written {}, removed {}, unchanged {}, killed {}, {:.1f} ms)\n", r.id,
                     r.written, r.removed, r.unchanged, r.killed, r.duration_ms);
}

// A refused raw call: the sidecar's {"error"} text, with the status mapped
// as SidecarClient maps it.
[[noreturn]] void refused(const SandboxTarget& t, const std::string& what, int status, const std::string& body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string msg = j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : body;
  ErrorCode code = status == 404 ? ErrorCode::not_found
                   : status == 409 || status == 507 ? ErrorCode::conflict
                   : status >= 400 && status < 500 ? ErrorCode::invalid
                                                    : ErrorCode::unavailable;
  throw Error(code, fmt::format("sandbox {}: {}: HTTP {}: {}", t.sandbox, what, status, msg));
}

void take(PluginContext& ctx, const CheckpointArgs& a) {
  auto t = resolve_sandbox(ctx, ctx.ns(), a.sandbox);
  auto info = sidecar_client(ctx, t).checkpoint(a.name);
  if (ctx.output_format() == OutputFormat::json) ctx.out() << nlohmann::json(info).dump(2) << "\n";
  else ctx.out() << checkpoint_line(nlohmann::json(info), "created");
}

void list(PluginContext& ctx, const CheckpointArgs& a) {
  auto t = resolve_sandbox(ctx, ctx.ns(), a.sandbox);
  auto l = sidecar_client(ctx, t).checkpoints();
  if (ctx.output_format() == OutputFormat::json) {
    ctx.out() << nlohmann::json(l).dump(2) << "\n";
    return;
  }
  std::vector<std::vector<std::string>> rows;
  if (!ctx.flags.no_headers) rows.push_back({"ID", "NAME", "FILES", "DIRECTORIES", "BYTES", "AGE"});
  const std::time_t now = std::time(nullptr);
  for (const auto& c : l.checkpoints)
    rows.push_back({c.id, c.name.empty() ? "<none>" : c.name, std::to_string(c.files), std::to_string(c.directories),
                    std::to_string(c.bytes), age_of(c.created_at, now)});
  ctx.out() << render_table(rows);
  if (l.checkpoints.empty()) ctx.err() << "No checkpoints in sandbox " << a.sandbox << ".\n";
}

void restore(PluginContext& ctx, const CheckpointArgs& a) {
  check_ref(a.ref);
  auto t = resolve_sandbox(ctx, ctx.ns(), a.sandbox);
  ctx.out() << restored_line(sidecar_client(ctx, t).restore(a.ref, a.kill_processes));
}

void remove(PluginContext& ctx, const CheckpointArgs& a) {
  check_ref(a.ref);
  auto t = resolve_sandbox(ctx, ctx.ns(), a.sandbox);
  auto r = sidecar_client(ctx, t).delete_checkpoint(a.ref);
  ctx.out() << fmt::format("checkpoint/{} deleted (freed {} bytes)\n", r.id, r.freed_bytes);
}

// Streamed to FILE.tmp and renamed: a failed export leaves no partial file
// that looks like an archive.
void export_archive(PluginContext& ctx, const CheckpointArgs& a) {
  check_ref(a.ref);
  if (a.file.empty()) throw Error(ErrorCode::usage, "sandbox export: -f FILE is required (the .tar.gz to write)");
  auto t = resolve_sandbox(ctx, ctx.ns(), a.sandbox);
  const std::string what = "GET /checkpoints/" + a.ref + "/archive";
  const std::string tmp = a.file + ".tmp";
  std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
  if (!f) throw Error(ErrorCode::forbidden, a.file + ": cannot write");
  std::string error_body;
  std::uint64_t bytes = 0;
  int status = 0;
  try {
    status = ctx.rest().stream_request(
        "GET", k8s::pod_proxy_path(t.ns, t.pod, "/checkpoints/" + a.ref + "/archive"), "", "application/json",
        [&](std::string_view chunk) {
          if (status == 0) status = 200;  // first chunk; the real status is checked below
          if (error_body.size() < 4096) error_body.append(chunk.substr(0, 4096));
          f.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
          bytes += chunk.size();
          return static_cast<bool>(f);
        },
        {}, ctx.timeout_or(std::chrono::minutes(5)), {{std::string(arl::kTokenHeader), t.token}});
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
  f.close();
  if (status < 200 || status >= 300) {
    std::remove(tmp.c_str());
    refused(t, what, status, error_body);
  }
  if (!f || std::rename(tmp.c_str(), a.file.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(ErrorCode::forbidden, a.file + ": cannot write");
  }
  ctx.out() << fmt::format("checkpoint/{} exported to {} ({} bytes)\n", a.ref, a.file, bytes);
}

void import_archive(PluginContext& ctx, const CheckpointArgs& a) {
  if (a.file.empty()) throw Error(ErrorCode::usage, "sandbox import: -f FILE is required (a .tar.gz from `sandbox export`)");
  std::ifstream f(a.file, std::ios::binary);
  if (!f) throw Error(ErrorCode::not_found, a.file + ": cannot read");
  std::stringstream ss;
  ss << f.rdbuf();
  const bool plain = a.file.size() > 4 && a.file.compare(a.file.size() - 4, 4, ".tar") == 0;
  auto t = resolve_sandbox(ctx, ctx.ns(), a.sandbox);
  std::string endpoint = "/checkpoints/import";
  std::string sep = "?";
  if (!a.name.empty()) endpoint += sep + "name=" + a.name, sep = "&";
  if (a.restore) endpoint += sep + "restore=1";
  auto res = ctx.rest().raw("POST", k8s::pod_proxy_path(t.ns, t.pod, endpoint), ss.str(),
                            plain ? "application/x-tar" : "application/gzip", {{std::string(arl::kTokenHeader), t.token}});
  if (res.status < 200 || res.status >= 300) refused(t, "POST /checkpoints/import", res.status, res.body);
  auto info = nlohmann::json::parse(res.body);
  if (ctx.output_format() == OutputFormat::json) {
    ctx.out() << info.dump(2) << "\n";
    return;
  }
  ctx.out() << checkpoint_line(info, "imported");
  if (info.contains("restored")) ctx.out() << restored_line(info["restored"].get<core::RestoreResponse>());
}

}  // namespace

void add_checkpoint_commands(CLI::App& sandbox, std::shared_ptr<PluginContext> ctx) {
  auto a = std::make_shared<CheckpointArgs>();
  auto* take_cmd = add_command(
      sandbox, "checkpoint", "Snapshot a sandbox's workdir inside its pod (files, modes, symlinks, empty directories)",
      "  kubectl arl sandbox checkpoint my-sb\n"
      "  kubectl arl sandbox checkpoint my-sb --name before-refactor\n"
      "  kubectl arl sandbox checkpoint my-sb -o json\n\n"
      "Prints the new checkpoint's id, then what it holds and how long it took. Checkpoints live in the\n"
      "pod, not in the API server: they go with it. Restore one with `kubectl arl sandbox restore`.\n");
  take_cmd->add_option("sandbox", a->sandbox, "Sandbox name")->required();
  take_cmd->add_option("--name", a->name, "A name to restore it by (unique in the sandbox; A-Z a-z 0-9 . _ -)");
  add_output_flags(*take_cmd, *ctx);
  take_cmd->callback([ctx, a] { take(*ctx, *a); });

  auto* list_cmd = add_command(sandbox, "checkpoints", "List a sandbox's checkpoints, oldest first",
                               "  kubectl arl sandbox checkpoints my-sb\n"
                               "  kubectl arl sandbox checkpoints my-sb -o json   (also the space used and the cap)\n");
  list_cmd->add_option("sandbox", a->sandbox, "Sandbox name")->required();
  add_output_flags(*list_cmd, *ctx);
  list_cmd->callback([ctx, a] { list(*ctx, *a); });

  auto* restore_cmd = add_command(
      sandbox, "restore", "Make a sandbox's workdir exactly what it was at a checkpoint",
      "  kubectl arl sandbox restore my-sb before-refactor\n"
      "  kubectl arl sandbox restore my-sb 1a2b3c4d --kill-processes\n\n"
      "Files created since are removed, deleted ones come back, contents and modes are put back;\n"
      "only what differs is rewritten. Background processes keep running unless --kill-processes.\n");
  restore_cmd->add_option("sandbox", a->sandbox, "Sandbox name")->required();
  restore_cmd->add_option("checkpoint", a->ref, "Checkpoint id or name")->required();
  restore_cmd->add_flag("--kill-processes", a->kill_processes, "Kill the sandbox's background processes first");
  restore_cmd->callback([ctx, a] { restore(*ctx, *a); });

  auto* delete_cmd = add_command(sandbox, "checkpoint-delete", "Delete a checkpoint and free its space",
                                 "  kubectl arl sandbox checkpoint-delete my-sb before-refactor\n");
  delete_cmd->add_option("sandbox", a->sandbox, "Sandbox name")->required();
  delete_cmd->add_option("checkpoint", a->ref, "Checkpoint id or name")->required();
  delete_cmd->callback([ctx, a] { remove(*ctx, *a); });

  auto* export_cmd = add_command(
      sandbox, "export", "Download a checkpoint as a .tar.gz",
      "  kubectl arl sandbox export my-sb before-refactor -f workspace.tar.gz\n"
      "  tar tzf workspace.tar.gz\n\n"
      "The archive holds the workdir's files (with modes and mtimes), directories and symlinks;\n"
      "load it into any sandbox with `kubectl arl sandbox import`.\n");
  export_cmd->add_option("sandbox", a->sandbox, "Sandbox name")->required();
  export_cmd->add_option("checkpoint", a->ref, "Checkpoint id or name")->required();
  export_cmd->add_option("-f,--filename", a->file, "The .tar.gz to write")->required();
  export_cmd->callback([ctx, a] { export_archive(*ctx, *a); });

  auto* import_cmd = add_command(
      sandbox, "import", "Upload a .tar.gz (or .tar) as a new checkpoint of a sandbox",
      "  kubectl arl sandbox import my-sb -f workspace.tar.gz --restore\n"
      "  kubectl arl sandbox import my-sb -f workspace.tar.gz --name seed\n"
      "  tar czf ws.tar.gz -C ./project . && kubectl arl sandbox import my-sb -f ws.tar.gz --restore\n\n"
      "Without --restore the workdir is untouched: restore the new checkpoint when you want it.\n"
      "Refused: absolute paths, '..', symlinks leading outside the workdir, hard links, devices,\n"
      "FIFOs, and archives over the sidecar's request body limit or its checkpoint cap.\n");
  import_cmd->add_option("sandbox", a->sandbox, "Sandbox name")->required();
  import_cmd->add_option("-f,--filename", a->file, "The .tar.gz (or .tar) to upload")->required();
  import_cmd->add_option("--name", a->name, "A name for the new checkpoint");
  import_cmd->add_flag("--restore", a->restore, "Restore the workdir to it once imported");
  add_output_flags(*import_cmd, *ctx);
  import_cmd->callback([ctx, a] { import_archive(*ctx, *a); });
}

}  // namespace arl::kubectl
