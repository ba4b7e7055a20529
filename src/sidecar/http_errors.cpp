#include "sidecar/http_errors.h"

#include <httplib.h>

#include "core/sidecar_protocol.h"

namespace arl::sidecar {
namespace {

std::string status_text(int status) {
  switch (status) {
    case 404: return "not found: see the sidecar API in SPEC.md";
    case 405: return "method not allowed";
    case 413: return "body: request body too large";
    case 400: return "body: malformed HTTP request";
    default: return "HTTP error " + std::to_string(status);
  }
}

}  // namespace

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid:
    case ErrorCode::usage: return 400;
    case ErrorCode::unauthorized: return 401;
    case ErrorCode::forbidden: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::already_exists:
    case ErrorCode::conflict: return 409;
    case ErrorCode::timeout: return 504;
    case ErrorCode::unavailable: return 503;
    default: return 500;
  }
}

void reply_error(httplib::Response& res, int status, ErrorCode code, const std::string& message) {
  core::ErrorResponse e{message, core::field_of_message(message), std::string(to_string(code))};
  res.status = status;
  res.set_content(nlohmann::json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

void install_error_replies(httplib::Server& svr) {
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    ErrorCode code = res.status == 404 ? ErrorCode::not_found : res.status < 500 ? ErrorCode::invalid : ErrorCode::internal;
    reply_error(res, res.status, code, status_text(res.status));
  });
}

}  // namespace arl::sidecar
