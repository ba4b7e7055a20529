#include "sidecar/http_errors.h"

#include <exception>

#include <fmt/format.h>
#include <httplib.h>

#include "core/log.h"
#include "core/sidecar_protocol.h"
#include "sidecar/http_front.h"

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

void install_error_replies(httplib::Server& svr, size_t max_body_bytes) {
  svr.set_error_handler([max_body_bytes](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (const FrontStream* s = FrontStream::current(); s && s->over_budget()) {
      reply_error(res, 413, ErrorCode::invalid,
                  "body: larger than the limit of " + std::to_string(max_body_bytes) + " bytes");
      return;
    }
    ErrorCode code = res.status == 404 ? ErrorCode::not_found : res.status < 500 ? ErrorCode::invalid : ErrorCode::internal;
    reply_error(res, res.status, code, status_text(res.status));
  });
  // Without this handler httplib answers a throwing handler with its own
  // 500 (an EXCEPTION_WHAT header and whatever body the handler had begun).
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    // Drops whatever the handler had set up, a stream included.
    res = httplib::Response();
    try {
      std::rethrow_exception(ep);
    } catch (const Error& e) {
      reply_error(res, http_status_for(e.code()), e.code(), e.what());
    } catch (const std::exception& e) {
      log::error("Failed request", {{"path", req.path}, {"error", e.what()}});
      reply_error(res, 500, ErrorCode::internal, fmt::format("internal error: {}", e.what()));
    } catch (...) {
      log::error("Failed request", {{"path", req.path}, {"error", "unknown exception"}});
      reply_error(res, 500, ErrorCode::internal, "internal error: unknown exception");
    }
  });
}

}  // namespace arl::sidecar
