#include "kubectl/wait.h"

#include <signal.h>

#include <atomic>
#include <mutex>
#include <ostream>
#include <thread>

#include <fmt/format.h>

#include "core/duration.h"
#include "core/error.h"

namespace arl::kubectl {
namespace {

std::atomic<int> g_sigints{0};

extern "C" void on_sigint(int) { g_sigints.fetch_add(1); }

}  // namespace

struct InterruptScope::State {
  std::stop_source source;
  std::chrono::steady_clock::time_point deadline;
  bool has_deadline = false;
  int sigints_at_start = 0;
  std::atomic<bool> interrupted{false};
  std::atomic<bool> timed_out{false};
  std::mutex mu;
  std::function<void()> tick;
  struct sigaction old_action {};
  std::jthread monitor;
};

InterruptScope::InterruptScope(std::chrono::milliseconds deadline) : state_(new State) {
  auto* s = state_;
  s->sigints_at_start = g_sigints.load();
  if (deadline.count() > 0) {
    s->has_deadline = true;
    s->deadline = std::chrono::steady_clock::now() + deadline;
  }
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &s->old_action);
  // The monitor turns the signal flag and the deadline into a stop request:
  // a signal handler may not touch the stop_source itself.
  s->monitor = std::jthread([s](std::stop_token self) {
    while (!self.stop_requested()) {
      if (g_sigints.load() != s->sigints_at_start) {
        s->interrupted = true;
        s->source.request_stop();
      } else if (s->has_deadline && std::chrono::steady_clock::now() >= s->deadline) {
        s->timed_out = true;
        s->source.request_stop();
      }
      {
        std::lock_guard lock(s->mu);
        if (s->tick && !s->source.stop_requested()) s->tick();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
}

InterruptScope::~InterruptScope() {
  state_->monitor.request_stop();
  state_->monitor.join();
  sigaction(SIGINT, &state_->old_action, nullptr);
  delete state_;
}

std::stop_token InterruptScope::token() const { return state_->source.get_token(); }
bool InterruptScope::interrupted() const { return state_->interrupted; }
bool InterruptScope::timed_out() const { return state_->timed_out; }
void InterruptScope::on_tick(std::function<void()> tick) {
  std::lock_guard lock(state_->mu);
  state_->tick = std::move(tick);
}

namespace {

const char* kSpinner[] = {"|", "/", "-", "\\"};

}  // namespace

nlohmann::json wait_for(k8s::KubeApi& api, const WaitSpec& spec) {
  InterruptScope scope(spec.timeout);
  const auto started = std::chrono::steady_clock::now();
  std::mutex mu;
  std::string state = "...";
  int frame = 0;
  bool drew = false;
  auto describe = [&](const nlohmann::json& o) { return spec.describe ? spec.describe(o) : std::string(); };
  auto clear_line = [&] {
    if (drew && spec.progress) *spec.progress << "\r\033[K" << std::flush;
    drew = false;
  };
  if (spec.interactive && spec.progress) {
    scope.on_tick([&] {
      std::lock_guard lock(mu);
      auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
      *spec.progress << fmt::format("\r\033[K{} waiting for {}: {} ({})", kSpinner[frame++ % 4], spec.what, state,
                                    core::format_age(elapsed))
                     << std::flush;
      drew = true;
    });
  }
  auto update = [&](const nlohmann::json& o) {
    std::lock_guard lock(mu);
    if (spec.on_change) {
      clear_line();
      spec.on_change(o);
    }
    state = describe(o);
  };
  auto finish = [&] {
    scope.on_tick(nullptr);
    std::lock_guard lock(mu);
    clear_line();
  };

  nlohmann::json result;
  bool done = false;
  bool deleted = false;
  while (!done && !deleted && !scope.token().stop_requested()) {
    auto obj = api.get(*spec.resource, spec.ns, spec.name);
    if (!obj) {
      deleted = true;
      break;
    }
    update(*obj);
    if (spec.done(*obj)) {
      result = *obj;
      done = true;
      break;
    }
    k8s::WatchOptions wo;
    wo.field_selector = "metadata.name=" + spec.name;
    wo.resource_version = obj->value("/metadata/resourceVersion"_json_pointer, std::string());
    try {
      api.watch(
          *spec.resource, spec.ns, wo,
          [&](const k8s::WatchEvent& ev) {
            using T = k8s::WatchEvent::Type;
            if (ev.type == T::deleted) {
              deleted = true;
              return false;
            }
            if (ev.type != T::added && ev.type != T::modified) return true;
            update(ev.object);
            if (spec.done(ev.object)) {
              result = ev.object;
              done = true;
              return false;
            }
            return true;
          },
          scope.token());
    } catch (const Error& e) {
      if (e.code() != ErrorCode::gone) throw;  // re-get and watch again
    }
  }
  finish();
  if (done) return result;
  if (deleted) throw Error(ErrorCode::not_found, fmt::format("{} was deleted while waiting for it", spec.what));
  if (scope.interrupted()) {
    if (spec.progress) *spec.progress << fmt::format("stopped waiting for {} ({})\n", spec.what, state);
    throw ExitStatus{130};
  }
  throw Error(ErrorCode::timeout,
              fmt::format("timed out after {} waiting for {} (still {}); raise --timeout or check `kubectl describe`",
                          core::format_duration(spec.timeout), spec.what, state));
}

}  // namespace arl::kubectl
