#include "cmd/signals.h"

#include <csignal>
#include <thread>

namespace arl::cmd {

void stop_on_signals(std::stop_source stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, stop]() mutable {
    int sig = 0;
    sigwait(&set, &sig);
    stop.request_stop();
  }).detach();
}

}  // namespace arl::cmd
