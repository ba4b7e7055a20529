#pragma once
// Work started beside the caller (context.h Context::alongside): the
// allocation's claim beside its status write, a run's Bound write beside
// its steps.
#include <functional>

namespace arl::op {

/// Starts a function and returns the wait for its end.
using Alongside = std::function<std::function<void()>(std::function<void()>)>;

/// Runs each function on a thread of its own. The wait may be called more
/// than once (a run's success path and then its error path both wait).
Alongside threaded_alongside();

/// Runs each function at once, inline; the wait does nothing. For tests, so
/// the writes they list come in one order.
Alongside inline_alongside();

}  // namespace arl::op
