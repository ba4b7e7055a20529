#include "core/error.h"

namespace arl {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::invalid: return "Invalid";
    case ErrorCode::not_found: return "NotFound";
    case ErrorCode::already_exists: return "AlreadyExists";
    case ErrorCode::conflict: return "Conflict";
    case ErrorCode::forbidden: return "Forbidden";
    case ErrorCode::unauthorized: return "Unauthorized";
    case ErrorCode::gone: return "Gone";
    case ErrorCode::unavailable: return "Unavailable";
    case ErrorCode::timeout: return "Timeout";
    case ErrorCode::usage: return "Usage";
    case ErrorCode::internal: return "Internal";
  }
  return "Internal";
}

}  // namespace arl
