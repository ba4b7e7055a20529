#include "sidecar/trajectory_lines.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/base64.h"
#include "core/error.h"

namespace arl::sidecar {

Redactor::Redactor(const std::map<std::string, std::string>& env) { add(env); }

void Redactor::add(const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env)
    if (value.size() >= kMinRedactedLength) values_.emplace_back(value, name);
  // Longest first: a value that contains another is replaced whole.
  std::stable_sort(values_.begin(), values_.end(),
                   [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
}

std::string Redactor::apply(std::string text, bool cut) const {
  for (const auto& [value, name] : values_) {
    const std::string mark = "[redacted " + name + "]";
    for (size_t at = 0; (at = text.find(value, at)) != std::string::npos; at += mark.size())
      text.replace(at, value.size(), mark);
  }
  if (!cut) return text;
  for (const auto& [value, name] : values_) {
    for (size_t keep = std::min(text.size(), value.size() - 1); keep > 0; --keep) {
      if (text.compare(text.size() - keep, keep, value, 0, keep) == 0) {
        text.resize(text.size() - keep);
        break;
      }
    }
  }
  return text;
}

bool Redactor::contains_value(std::string_view bytes) const {
  for (const auto& v : values_)
    if (bytes.find(v.first) != std::string_view::npos) return true;
  return false;
}

const char* kind_name(TrajectoryKind k) {
  switch (k) {
    case TrajectoryKind::execute: return "execute";
    case TrajectoryKind::file_write: return "file_write";
    case TrajectoryKind::checkpoint: return "checkpoint";
    case TrajectoryKind::restore: return "restore";
    case TrajectoryKind::signal: return "signal";
    case TrajectoryKind::reset: return "reset";
  }
  return "unknown";
}

TrajectoryLine line_of(TrajectoryKind k) { return TrajectoryLine{{"kind", kind_name(k)}}; }

namespace {

// Bytes a replay needs to redo the step: inline when small and free of
// secrets, else only described (the reason says which).
void put_input(TrajectoryLine& line, const std::string& prefix, const std::string& data_prefix, const std::string& bytes,
               const Redactor& secrets) {
  line[prefix + "bytes"] = bytes.size();
  line[prefix + "sha256"] = sha256_hex(bytes);
  if (bytes.size() > kTrajectoryInlineFileMax)
    line[data_prefix + "omitted"] = fmt::format("larger than {} bytes", kTrajectoryInlineFileMax);
  else if (secrets.contains_value(bytes))
    line[data_prefix + "omitted"] = "contains a value of the sandbox's env";
  else
    line[data_prefix + "base64"] = core::base64_encode(bytes);
}

void put_output(TrajectoryLine& line, const std::string& stream, const OutputRecord& o, bool incomplete,
                const Redactor& redactor) {
  line[stream] = redactor.apply(o.head, o.truncated);
  line[stream + "_bytes"] = o.size;
  line[stream + "_sha256"] = o.sha256;
  if (o.truncated) line[stream + "_truncated"] = true;
  // The sidecar's own buffer cap dropped the beginning: size and hash are of
  // the tail it kept, not of everything the command printed.
  if (incomplete) line[stream + "_incomplete"] = true;
}

}  // namespace

TrajectoryLine execute_request_line(const core::ExecuteRequest& req, const Redactor& secrets) {
  TrajectoryLine line = line_of(TrajectoryKind::execute);
  line["command"] = req.command;
  line["working_dir"] = req.working_dir;
  auto names = TrajectoryLine::array();
  for (const auto& kv : req.env) names.push_back(kv.first);
  line["env_names"] = names;
  line["timeout_seconds"] = req.timeout_seconds.value_or(core::kSidecarDefaultTimeoutSeconds);
  if (req.background) line["background"] = true;
  if (req.stream) line["stream"] = true;
  if (req.stdin_data) put_input(line, "stdin_", "stdin_", *req.stdin_data, secrets);
  return line;
}

TrajectoryLine execute_line(const core::ExecuteRequest& req, const core::ExecuteResponse& r, const OutputRecord& out,
                            const OutputRecord& err, const Redactor& redactor) {
  TrajectoryLine line = execute_request_line(req, redactor);
  if (r.pid && !r.done) {
    line["pid"] = *r.pid;
    return line;
  }
  Redactor with_request_env = redactor;
  with_request_env.add(req.env);
  line["exit_code"] = r.exit_code;
  if (r.timed_out) line["timed_out"] = true;
  put_output(line, "stdout", out, r.stdout_truncated, with_request_env);
  put_output(line, "stderr", err, r.stderr_truncated, with_request_env);
  if (r.usage) line["usage"] = nlohmann::json(*r.usage);
  return line;
}

TrajectoryLine file_write_line(const core::FileWriteRequest& req, const core::FileWriteResponse* r,
                               const Redactor& secrets) {
  TrajectoryLine line = line_of(TrajectoryKind::file_write);
  line["path"] = req.path;
  if (r) line["resolved_path"] = r->path;
  if (req.mode) line["mode"] = fmt::format("{:04o}", *req.mode);
  try {
    const std::string bytes = req.encoding == "base64" ? core::base64_decode(req.content, "content") : req.content;
    put_input(line, "", "content_", bytes, secrets);
  } catch (const Error&) {
    // Not base64 after all: the write was refused, and its error says why.
  }
  return line;
}

TrajectoryLine checkpoint_line(const std::string& name, const core::CheckpointInfo* r) {
  TrajectoryLine line = line_of(TrajectoryKind::checkpoint);
  line["name"] = name;
  if (r) {
    line["id"] = r->id;
    line["files"] = r->files;
    line["bytes"] = r->bytes;
  }
  return line;
}

TrajectoryLine restore_line(const std::string& ref, bool kill_processes, const core::RestoreResponse* r) {
  TrajectoryLine line = line_of(TrajectoryKind::restore);
  line["checkpoint"] = ref;  // as the client named it: an id or a name
  line["kill_processes"] = kill_processes;
  if (r) {
    line["id"] = r->id;
    line["written"] = r->written;
    line["removed"] = r->removed;
    line["killed"] = r->killed;
  }
  return line;
}

TrajectoryLine signal_line(int pid, const std::string& signal, const core::SignalResponse* r) {
  TrajectoryLine line = line_of(TrajectoryKind::signal);
  line["pid"] = pid;
  line["signal"] = signal;
  if (r) line["success"] = r->success;
  return line;
}

TrajectoryLine reset_line(bool preserve_files, const core::ResetResponse* r) {
  TrajectoryLine line = line_of(TrajectoryKind::reset);
  line["preserve_files"] = preserve_files;
  if (r) line["killed"] = r->killed;
  return line;
}

}  // namespace arl::sidecar
