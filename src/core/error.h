#pragma once
// The one error type of ARL. Codes map to exit status in main.cpp and to HTTP
// status in the sidecar, each in a single function.
#include <stdexcept>
#include <string>
#include <string_view>

namespace arl {

enum class ErrorCode {
  invalid,         // bad input: validation, parse errors, bad flag values
  not_found,
  already_exists,
  conflict,        // optimistic-concurrency loss (HTTP 409 on update)
  forbidden,       // authenticated but not allowed (403)
  unauthorized,    // no or wrong credentials (401)
  gone,            // watch resourceVersion too old (410): re-list
  unavailable,     // cannot reach the server, 5xx, 429 after retries
  timeout,
  usage,           // CLI usage error: exit status 2
  internal,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

std::string_view to_string(ErrorCode code);

/// Thrown by a command that must exit with a specific status (e.g. `sandbox
/// exec` returns the remote command's exit code, as `kubectl exec` does).
/// Not an Error: it is an outcome, and run_main() alone turns it into the
/// process's exit status.
struct ExitStatus {
  int code;
};

}  // namespace arl
