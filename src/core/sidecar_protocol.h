#pragma once
// Wire types of the sidecar HTTP API (SPEC.md "Sidecar HTTP API"), shared by
// the sidecar server, the operator and the CLI so the three can never drift.
//
// Parsing (from_json / parse_*) validates and throws arl::Error{invalid} whose
// message starts with the offending field ("command: must not be empty"); the
// server answers those with 400 and an ErrorResponse body.
//
// Endpoints (all bodies JSON; every endpoint but /health needs the token as
// `Authorization: Bearer <token>` or `X-Arl-Token: <token>` when one is set):
//   GET  /health     -> HealthResponse
//   POST /files      FileWriteRequest  -> FileWriteResponse
//   POST /execute    ExecuteRequest    -> ExecuteResponse
//   POST /signal     SignalRequest     -> SignalResponse (404 for a pid the sidecar did not start)
//   POST /reset      ResetRequest      -> ResetResponse
//   GET  /processes  -> ProcessesResponse
//   POST /bind       BindRequest       -> BindResponse (the operator, once per
//                    allocation: from then on only the sandbox's own token works)
//   POST   /checkpoints              CheckpointRequest -> CheckpointInfo
//                                    (507 when the checkpoints' space cap is reached)
//   GET    /checkpoints              -> CheckpointList
//   DELETE /checkpoints/{id}         -> CheckpointDeleted (404 for an unknown id)
//   POST   /checkpoints/{id}/restore RestoreRequest -> RestoreResponse
//   ({id} is a checkpoint's id or its name.)
//   GET    /trajectory?since=N       -> application/x-ndjson, one line per operation
//                                    (docs/design.md "Trajectory"; sidecar/trajectory_http.h)
//
// Streaming /execute: send `"stream": true` in the ExecuteRequest body (the
// header `Accept: application/x-ndjson` does the same). The reply is
// `200 application/x-ndjson`, chunked, one ExecEvent JSON object per line,
// written as output arrives:
//   {"type":"start","pid":123}
//   {"type":"stdout","data":"..."}   {"type":"stderr","data":"..."}
//   {"type":"exit","exit_code":0,"timed_out":false,"duration_ms":1.2,"usage":{...}}
// Validation errors are still plain 4xx replies (nothing has started then);
// a failure after the 200 went out is an {"type":"error","message":...} event.
// A stream always ends with exactly one "exit" or "error" event.
// Background commands are never streamed: they reply like the buffered form.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/names.h"
#include "core/types.h"  // Usage

namespace arl::core {

// The port, token header and workdir are in core/names.h (kSidecarPort,
// kTokenHeader, kDefaultWorkDir), shared with the pod the operator builds.
inline constexpr const char* kNdjsonContentType = "application/x-ndjson";
/// Used when an ExecuteRequest has no timeout_seconds (same as Task's default).
inline constexpr double kSidecarDefaultTimeoutSeconds = 30;
/// Exit code reported for a command killed by its timeout (as coreutils' timeout).
inline constexpr int kTimeoutExitCode = 124;
/// Exit code for a command that could not be started (not found, not executable).
inline constexpr int kNotFoundExitCode = 127;

struct ErrorResponse {
  std::string error;   // human message, starts with the field when one is at fault
  std::string field;   // "" when no single field is at fault
  std::string reason;  // arl::to_string(ErrorCode): "invalid", "unauthorized", ...
};

struct HealthResponse {
  std::string status = "ok";
  std::string version;
};

struct FileWriteRequest {
  std::string path;                // relative: under the sidecar's workdir; absolute: as given
  std::string content;             // raw text, or base64 when encoding == "base64"
  std::optional<unsigned> mode;    // permission bits; JSON accepts 420 or "0644"; default 0644
  std::string encoding;            // "" (or "utf-8") | "base64"
};

struct FileWriteResponse {
  std::string path;  // absolute path written
  std::uint64_t bytes = 0;
};

struct ExecuteRequest {
  std::vector<std::string> command;          // argv; no shell unless argv[0] is one
  std::string working_dir;                   // "" -> sidecar workdir; relative -> under it
  std::map<std::string, std::string> env;    // merged over the sidecar's environment
  std::optional<double> timeout_seconds;     // 0: none; absent -> kSidecarDefaultTimeoutSeconds
  bool background = false;                   // start, record pid, reply at once
  std::optional<std::string> stdin_data;     // JSON "stdin"; not allowed with background
  bool stream = false;                       // NDJSON reply (see top of file)
};

struct ExecuteResponse {
  std::string stdout_data;  // JSON "stdout"
  std::string stderr_data;  // JSON "stderr"
  int exit_code = 0;        // signalled: 128 + signal; timed out: kTimeoutExitCode
  bool done = true;         // false for background starts
  std::optional<int> pid;   // set for background starts
  double duration_ms = 0;
  bool timed_out = false;
  bool stdout_truncated = false;  // output beyond the sidecar's buffer cap was dropped
  bool stderr_truncated = false;
  std::optional<Usage> usage;     // foreground commands that ran
};

/// One line of a streaming /execute reply.
struct ExecEvent {
  enum class Type { start, stdout_data, stderr_data, exit, error };
  Type type = Type::stdout_data;
  std::string data;        // stdout/stderr chunk; message for error
  int pid = 0;             // start
  int exit_code = 0;       // exit
  bool timed_out = false;  // exit
  double duration_ms = 0;  // exit
  std::optional<Usage> usage;  // exit
};

struct SignalRequest {
  int pid = 0;
  std::string signal = "SIGTERM";  // "SIGTERM" | "SIGINT" | "SIGKILL" (also "TERM", "15", ...)
};

struct SignalResponse {
  bool success = false;
  std::string message;
};

struct ResetRequest {
  bool preserve_files = false;
};

struct ResetResponse {
  bool success = true;
  std::string message;
  int killed = 0;  // process groups killed
};

/// The allocation handoff (docs/design.md "Sandbox tokens"). An object so
/// later per-sandbox settings (issue 15: env) ride on the same one call.
struct BindRequest {
  std::string token;  // the sandbox's token; the pool's stops working
};

struct BindResponse {
  bool bound = true;
  bool already = false;  // bound to this same token before (an operator restart re-binds)
};

/// A token's shape, as the front compares it raw from a header: 16-256
/// visible ASCII characters, no spaces.
bool valid_token(std::string_view token);

struct ProcessInfo {
  int pid = 0;
  std::vector<std::string> command;
  bool running = false;
  std::optional<int> exit_code;  // once it exited
  bool background = true;        // false: a foreground /execute still running
  std::string started_at;        // RFC 3339 UTC
};

struct ProcessesResponse {
  std::vector<ProcessInfo> processes;
};

struct CheckpointRequest {
  std::string name;  // optional; [A-Za-z0-9][A-Za-z0-9._-]{0,62}, unique among the sandbox's checkpoints
};

struct CheckpointInfo {
  std::string id;            // 8 hex digits
  std::string name;
  std::string created_at;    // RFC 3339 UTC, milliseconds
  std::uint64_t files = 0;   // files, symlinks and FIFOs
  std::uint64_t directories = 0;
  std::uint64_t bytes = 0;   // file data stored (counted against the cap)
  std::uint64_t skipped = 0; // sockets and devices: not checkpointed
  double duration_ms = 0;
};

struct CheckpointList {
  std::vector<CheckpointInfo> checkpoints;  // oldest first
  std::uint64_t used_bytes = 0;
  std::uint64_t max_bytes = 0;
};

struct CheckpointDeleted {
  std::string id;
  std::uint64_t freed_bytes = 0;
};

struct RestoreRequest {
  bool kill_processes = false;  // kill every process the sidecar started before restoring
};

struct RestoreResponse {
  std::string id;
  std::uint64_t written = 0;    // entries created or rewritten
  std::uint64_t removed = 0;    // entries that were not in the checkpoint
  std::uint64_t unchanged = 0;  // files and links left in place
  int killed = 0;               // process groups killed (kill_processes)
  double duration_ms = 0;
};

/// Signal name ("SIGTERM", "TERM", "15") -> number; throws Error{invalid} naming `field`.
int parse_signal_name(std::string_view name, std::string_view field = "signal");
std::string_view event_type_name(ExecEvent::Type t);

// JSON conversions (nlohmann ADL). from_json validates; throws arl::Error{invalid}.
void to_json(nlohmann::json& j, const ErrorResponse& v);
void from_json(const nlohmann::json& j, ErrorResponse& v);
void to_json(nlohmann::json& j, const HealthResponse& v);
void from_json(const nlohmann::json& j, HealthResponse& v);
void to_json(nlohmann::json& j, const FileWriteRequest& v);
void from_json(const nlohmann::json& j, FileWriteRequest& v);
void to_json(nlohmann::json& j, const FileWriteResponse& v);
void from_json(const nlohmann::json& j, FileWriteResponse& v);
void to_json(nlohmann::json& j, const ExecuteRequest& v);
void from_json(const nlohmann::json& j, ExecuteRequest& v);
void to_json(nlohmann::json& j, const Usage& v);
void from_json(const nlohmann::json& j, Usage& v);
void to_json(nlohmann::json& j, const ExecuteResponse& v);
void from_json(const nlohmann::json& j, ExecuteResponse& v);
void to_json(nlohmann::json& j, const ExecEvent& v);
void from_json(const nlohmann::json& j, ExecEvent& v);
void to_json(nlohmann::json& j, const SignalRequest& v);
void from_json(const nlohmann::json& j, SignalRequest& v);
void to_json(nlohmann::json& j, const SignalResponse& v);
void from_json(const nlohmann::json& j, SignalResponse& v);
void to_json(nlohmann::json& j, const ResetRequest& v);
void from_json(const nlohmann::json& j, ResetRequest& v);
void to_json(nlohmann::json& j, const ResetResponse& v);
void from_json(const nlohmann::json& j, ResetResponse& v);
void to_json(nlohmann::json& j, const BindRequest& v);
void from_json(const nlohmann::json& j, BindRequest& v);
void to_json(nlohmann::json& j, const BindResponse& v);
void from_json(const nlohmann::json& j, BindResponse& v);
void to_json(nlohmann::json& j, const ProcessInfo& v);
void from_json(const nlohmann::json& j, ProcessInfo& v);
void to_json(nlohmann::json& j, const ProcessesResponse& v);
void from_json(const nlohmann::json& j, ProcessesResponse& v);
void to_json(nlohmann::json& j, const CheckpointRequest& v);
void from_json(const nlohmann::json& j, CheckpointRequest& v);
void to_json(nlohmann::json& j, const CheckpointInfo& v);
void from_json(const nlohmann::json& j, CheckpointInfo& v);
void to_json(nlohmann::json& j, const CheckpointList& v);
void from_json(const nlohmann::json& j, CheckpointList& v);
void to_json(nlohmann::json& j, const CheckpointDeleted& v);
void from_json(const nlohmann::json& j, CheckpointDeleted& v);
void to_json(nlohmann::json& j, const RestoreRequest& v);
void from_json(const nlohmann::json& j, RestoreRequest& v);
void to_json(nlohmann::json& j, const RestoreResponse& v);
void from_json(const nlohmann::json& j, RestoreResponse& v);

/// The field an Error{invalid} message from this file names ("" if none):
/// the text before the first ": ". Used to fill ErrorResponse::field.
std::string field_of_message(std::string_view message);

}  // namespace arl::core
