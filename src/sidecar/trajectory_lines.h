#pragma once
// The lines of the trajectory (docs/design.md "Trajectory"), one builder per
// kind, pure: the recorder (trajectory_recorder.h) adds seq, time and
// duration_ms. What a line may hold is decided here and only here:
//  - a request's env by NAME only, never its values;
//  - output as the first kTrajectoryOutputCap bytes, with the size and
//    SHA-256 of the whole of it; values of the sandbox's bound env and of
//    the request's own env are replaced by `[redacted NAME]` in those bytes;
//  - a written file's size, SHA-256 and mode, and its bytes (base64) only up
//    to kTrajectoryInlineFileMax, which is what replay can re-write.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/sidecar_protocol.h"
#include "sidecar/output_digest.h"
#include "sidecar/trajectory.h"

namespace arl::sidecar {

inline constexpr size_t kTrajectoryOutputCap = 4096;
inline constexpr size_t kTrajectoryInlineFileMax = 64 * 1024;
/// Shorter values are not redacted: "1" or "yes" would garble every output,
/// and a secret that short protects nothing.
inline constexpr size_t kMinRedactedLength = 4;

/// Replaces secret values in output kept in the trajectory.
class Redactor {
 public:
  Redactor() = default;
  /// NAME -> value (the sandbox's bound env, a request's env).
  explicit Redactor(const std::map<std::string, std::string>& env);
  void add(const std::map<std::string, std::string>& env);
  /// `text` with every value replaced by `[redacted NAME]`; with `cut` (the
  /// text is the head of a longer output) a tail that begins a value is
  /// dropped too, since the value continues past the cut.
  std::string apply(std::string text, bool cut) const;
  /// Whether `bytes` hold any value (inputs that contain one are not inlined).
  bool contains_value(std::string_view bytes) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;  // value, name; longest first
};

/// The kinds, in one place so a new one (checkpoint_import) is one line.
enum class TrajectoryKind { execute, file_write, checkpoint, restore, signal, reset };
const char* kind_name(TrajectoryKind k);

/// Every line begins {"kind": ...}: the recorder puts seq and time before it.
TrajectoryLine line_of(TrajectoryKind k);

/// A foreground or background execute that ran (stdout/stderr: the full
/// output's records; for a buffered reply, of the reply's output).
TrajectoryLine execute_line(const core::ExecuteRequest& req, const core::ExecuteResponse& r, const OutputRecord& out,
                            const OutputRecord& err, const Redactor& redactor);
/// The request part alone (also the line of a refused execute, plus "error").
/// Stdin is inlined like a written file's bytes (replay needs it), unless it
/// holds a value `secrets` knows.
TrajectoryLine execute_request_line(const core::ExecuteRequest& req, const Redactor& secrets);

TrajectoryLine file_write_line(const core::FileWriteRequest& req, const core::FileWriteResponse* r,
                               const Redactor& secrets);
TrajectoryLine checkpoint_line(const std::string& name, const core::CheckpointInfo* r);
TrajectoryLine restore_line(const std::string& ref, bool kill_processes, const core::RestoreResponse* r);
TrajectoryLine signal_line(int pid, const std::string& signal, const core::SignalResponse* r);
TrajectoryLine reset_line(bool preserve_files, const core::ResetResponse* r);

}  // namespace arl::sidecar
