#include "sidecar/credential.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/log.h"

extern char** environ;

namespace arl::sidecar {

void wipe(std::string& s) {
  if (!s.empty()) {
    volatile char* p = s.data();
    for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  }
  s.clear();
  s.shrink_to_fit();
}

Credential::Credential(std::string token) : token_(std::move(token)) {}

Credential::~Credential() { wipe(token_); }

core::BindResponse Credential::bind(const core::BindRequest& request) {
  std::lock_guard lock(mu_);
  core::BindResponse r;
  if (bound_) {
    if (request.token != token_)
      throw Error(ErrorCode::conflict, "token: this sidecar is already bound to another sandbox's token");
    r.already = true;
    return r;
  }
  std::string next = request.token;
  wipe(token_);
  token_ = std::move(next);
  bound_ = true;
  return r;
}

bool Credential::bound() const {
  std::lock_guard lock(mu_);
  return bound_;
}

std::string take_env_secret(const char* name) {
  const size_t n = std::strlen(name);
  std::string value;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, name, n) != 0 || (*e)[n] != '=') continue;
    char* v = *e + n + 1;
    if (value.empty()) value = v;
    // In place: the bytes /proc/<pid>/environ shows are these.
    std::memset(v, 0, std::strlen(v));
  }
  ::unsetenv(name);
  return value;
}

void harden_process() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
    log::warn("Could not make the sidecar non-dumpable", {{"error", std::strerror(errno)}});
}

}  // namespace arl::sidecar
