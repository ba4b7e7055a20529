#pragma once
// POST /files: atomic file writes (temp file in the same directory + rename),
// parent directories created, optional mode and base64 content.
#include <string>
#include <string_view>

#include "core/sidecar_protocol.h"

namespace arl::sidecar {

/// Writes request.content to `absolute_path`. Throws Error{invalid} naming
/// the field for bad base64, Error{internal}/{forbidden} for I/O failures.
core::FileWriteResponse write_file_atomically(const std::string& absolute_path, const core::FileWriteRequest& request);


}  // namespace arl::sidecar
