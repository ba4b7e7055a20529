#pragma once
// The sidecar's error replies: every error, whoever raises it (a handler, an
// exception of any type, httplib itself on a bad request), answers with the
// API's JSON error body and the one status mapping of arl::ErrorCode.
#include <cstddef>
#include <string>

#include "core/error.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace arl::sidecar {

int http_status_for(ErrorCode code);

void reply_error(httplib::Response& res, int status, ErrorCode code, const std::string& message);

/// Installs the error replies on `svr`; `max_body_bytes` is named when a
/// chunked body outgrows it (only the front's stream can tell).
void install_error_replies(httplib::Server& svr, size_t max_body_bytes = 0);

}  // namespace arl::sidecar
