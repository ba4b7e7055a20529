#pragma once
// POST /files: atomic file writes (temp file in the same directory + rename),
// parent directories created, optional mode and base64 content.
//
// Relative paths are confined to the workdir, symlinks included: code in the
// sandbox can plant `link -> /etc` in the workdir, and a relative write
// through it must not land outside. Each directory is opened with openat2's
// RESOLVE_BENEATH (symlinks that stay inside are followed, ones that leave
// are refused); on kernels before 5.6 no symlink is followed at all. Absolute
// paths are the caller's explicit choice and are used as given.
#include <string>
#include <string_view>

#include "core/sidecar_protocol.h"

namespace arl::sidecar {

/// Writes request.content to request.path (relative: under `workdir`).
/// Throws Error{invalid} naming `path` or `content` for the client's
/// mistakes, Error{forbidden} for permissions, Error{internal} for I/O
/// failures. The response names the absolute path written.
core::FileWriteResponse write_file(const std::string& workdir, const core::FileWriteRequest& request);

/// Tests: false forces the component walk used where openat2 is missing.
void use_openat2(bool enabled);

/// The same for an absolute path, without confinement.
core::FileWriteResponse write_file_atomically(const std::string& absolute_path, const core::FileWriteRequest& request);

}  // namespace arl::sidecar
