#pragma once
// The arl::ErrorCode a call throws (ErrorCode::internal when it throws none),
// for tests that assert which kind of error the caller gets.
#include <functional>

#include "core/error.h"

namespace arl::test_support {

inline ErrorCode error_code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal;
}

}  // namespace arl::test_support
