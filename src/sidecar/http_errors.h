#pragma once
// The sidecar's error replies: every error, whoever raises it (a handler, an
// exception of any type, httplib itself on a bad request), answers with the
// API's JSON error body and the one status mapping of arl::ErrorCode.
#include <string>

#include "core/error.h"

namespace httplib {
class Server;
struct Response;
}  // namespace httplib

namespace arl::sidecar {

int http_status_for(ErrorCode code);

void reply_error(httplib::Response& res, int status, ErrorCode code, const std::string& message);

/// Installs the error replies on `svr`.
void install_error_replies(httplib::Server& svr);

}  // namespace arl::sidecar
