#include "k8s/status_error.h"

#include <nlohmann/json.hpp>

namespace arl::k8s {

std::string qualified_plural(const Resource& r) {
  return r.group.empty() ? r.plural : r.plural + "." + r.group;
}

ErrorCode code_for_status(int http_status, const std::string& reason) {
  if (reason == "AlreadyExists") return ErrorCode::already_exists;
  if (reason == "Conflict") return ErrorCode::conflict;
  if (reason == "NotFound") return ErrorCode::not_found;
  if (reason == "Expired" || reason == "Gone") return ErrorCode::gone;
  switch (http_status) {
    case 400: return ErrorCode::invalid;
    case 401: return ErrorCode::unauthorized;
    case 403: return ErrorCode::forbidden;
    case 404: return ErrorCode::not_found;
    case 408: case 504: return ErrorCode::timeout;
    case 409: return ErrorCode::conflict;
    case 410: return ErrorCode::gone;
    case 415: case 422: return ErrorCode::invalid;
    case 429: return ErrorCode::unavailable;
    default: break;
  }
  if (http_status >= 500) return ErrorCode::unavailable;
  if (http_status >= 400) return ErrorCode::invalid;
  return ErrorCode::internal;
}

namespace {

std::string hint(ErrorCode code) {
  switch (code) {
    case ErrorCode::conflict: return " (the object changed since it was read: re-read it and retry)";
    case ErrorCode::unauthorized: return " (check the credentials in your kubeconfig)";
    case ErrorCode::gone: return " (re-list to get a fresh resourceVersion)";
    default: return "";
  }
}

}  // namespace

Error status_error(int http_status, const std::string& body, const Resource* r, const std::string& name) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string reason, message;
  nlohmann::json causes = nlohmann::json::array();
  if (j.is_object() && j.value("kind", "") == "Status") {
    reason = j.value("reason", "");
    message = j.value("message", "");
    if (j.contains("code") && j["code"].is_number_integer()) http_status = j["code"].get<int>();
    if (j.contains("details") && j["details"].is_object() && j["details"].contains("causes") &&
        j["details"]["causes"].is_array())
      causes = j["details"]["causes"];
  }
  ErrorCode code = code_for_status(http_status, reason);

  std::string obj = r ? qualified_plural(*r) + (name.empty() ? "" : " \"" + name + "\"") : "";
  if (message.empty()) {
    std::string text = body.size() > 300 ? body.substr(0, 300) + "..." : body;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    switch (code) {
      case ErrorCode::not_found: message = obj.empty() ? "not found" : obj + " not found"; break;
      case ErrorCode::already_exists: message = obj + " already exists"; break;
      default:
        message = (obj.empty() ? "" : obj + ": ") + "API server answered HTTP " + std::to_string(http_status) +
                  (text.empty() ? "" : ": " + text);
    }
  }
  // 422s list each field on its own line, easier to act on than the one-line
  // summary the server sends.
  if (!causes.empty()) {
    auto pos = message.find(" is invalid");
    std::string head = pos == std::string::npos ? message : message.substr(0, pos + 11);
    std::string lines;
    for (const auto& c : causes) {
      if (!c.is_object()) continue;
      std::string field = c.value("field", "");
      std::string msg = c.value("message", "");
      lines += "\n  " + (field.empty() ? msg : field + ": " + msg);
    }
    if (!lines.empty()) message = head + ":" + lines;
  }
  return Error(code, message + hint(code));
}

}  // namespace arl::k8s
