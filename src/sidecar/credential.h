#pragma once
// The token the sidecar accepts: the pool's until the operator binds the pod
// to a sandbox (POST /bind), then only that sandbox's own (docs/design.md
// "Sandbox tokens"). Code in the sandbox runs as the sidecar's user and can
// read whatever the sidecar leaves readable, so the pool token is wiped from
// memory once replaced, and the process is made non-dumpable (see
// harden_process) so its memory and environ stay closed to that code.
#include <mutex>
#include <string>
#include <string_view>

#include "core/sidecar_protocol.h"

namespace arl::sidecar {

class Credential {
 public:
  explicit Credential(std::string token);  // empty: no auth until bound
  ~Credential();
  Credential(const Credential&) = delete;
  Credential& operator=(const Credential&) = delete;

  /// Runs f(token) under the lock, so a bind never tears a comparison.
  template <typename F>
  auto with_token(F&& f) const {
    std::lock_guard lock(mu_);
    return f(std::string_view(token_));
  }

  /// Replaces the accepted token. Binding again to the same token is a no-op
  /// (already = true); to another one, Error{conflict}: a pod serves one
  /// sandbox for its whole life.
  core::BindResponse bind(const core::BindRequest& request);
  bool bound() const;

 private:
  mutable std::mutex mu_;
  std::string token_;
  bool bound_ = false;
};

/// Overwrites a string's bytes before it is dropped (the optimizer may not
/// elide it), so a secret does not linger in freed heap.
void wipe(std::string& s);

/// Removes `name` from the environment AND overwrites its value in place:
/// /proc/<pid>/environ reads the original block on the stack, which unsetenv
/// leaves untouched. Returns the value ("" when unset).
std::string take_env_secret(const char* name);

/// PR_SET_DUMPABLE 0: other processes of the same user (the sandbox's code)
/// can no longer open /proc/<sidecar>/environ, mem or fd, nor ptrace it;
/// only CAP_SYS_PTRACE can, which containers do not get by default. Reset by
/// execve, so the commands the sidecar starts are ordinary processes.
void harden_process();

}  // namespace arl::sidecar
