#pragma once
// The one base64 codec of ARL: kubeconfig and Secret data, sidecar file
// content, `kubectl arl sandbox cp`.
#include <string>
#include <string_view>

namespace arl::core {

/// Standard alphabet with padding.
std::string base64_encode(std::string_view bytes);

/// Standard or URL-safe alphabet; whitespace ignored; padding optional but
/// nothing may follow it. Throws Error{invalid} starting with `what`
/// (`content: not valid base64 ...`).
std::string base64_decode(std::string_view in, std::string_view what = "base64 data");

}  // namespace arl::core
