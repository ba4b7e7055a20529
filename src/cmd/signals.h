#pragma once
#include <stop_token>

namespace arl::cmd {

/// Blocks SIGTERM and SIGINT in every thread and requests `stop` when one
/// arrives (a sigwait thread, so no work happens in a signal handler).
/// Call before starting other threads.
void stop_on_signals(std::stop_source stop);

}  // namespace arl::cmd
