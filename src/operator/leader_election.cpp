#include "operator/leader_election.h"

#include <chrono>
#include <ctime>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/log.h"
#include "core/types.h"

namespace arl::op {

using nlohmann::json;

namespace {

std::string micro_time(std::chrono::system_clock::time_point tp) { return core::format_rfc3339_fraction(tp, 6); }

std::optional<std::chrono::system_clock::time_point> parse_micro_time(const std::string& s) {
  std::tm tm{};
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

void sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stop.stop_requested() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace

bool LeaderElector::try_acquire_or_renew() {
  auto now = std::chrono::system_clock::now();
  json spec{{"holderIdentity", opts_.identity},
            {"leaseDurationSeconds", opts_.lease_duration.count()},
            {"renewTime", micro_time(now)}};
  auto lease = api_.get(k8s::resources::leases, opts_.ns, opts_.name);
  try {
    if (!lease) {
      spec["acquireTime"] = micro_time(now);
      spec["leaseTransitions"] = 0;
      api_.create(k8s::resources::leases, opts_.ns,
                  json{{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", {{"name", opts_.name}, {"namespace", opts_.ns}}},
                       {"spec", spec}});
      return true;
    }
    json old = lease->value("spec", json::object());
    std::string holder = old.value("holderIdentity", "");
    if (holder != opts_.identity && !holder.empty()) {
      auto renewed = parse_micro_time(old.value("renewTime", ""));
      auto duration = std::chrono::seconds(old.value("leaseDurationSeconds", 15));
      if (renewed && *renewed + duration > now) return false;  // held by someone alive
    }
    spec["acquireTime"] = holder == opts_.identity ? old.value("acquireTime", micro_time(now)) : micro_time(now);
    spec["leaseTransitions"] = old.value("leaseTransitions", 0) + (holder == opts_.identity ? 0 : 1);
    json updated = *lease;
    updated["spec"] = spec;
    api_.update(k8s::resources::leases, opts_.ns, updated);  // conditional on resourceVersion
    return true;
  } catch (const Error& e) {
    if (e.code() == ErrorCode::conflict || e.code() == ErrorCode::already_exists) return false;
    throw;
  }
}

bool LeaderElector::acquire(std::stop_token stop) {
  bool announced = false;
  while (!stop.stop_requested()) {
    try {
      if (try_acquire_or_renew()) {
        log::info("became leader", {{"lease", opts_.ns + "/" + opts_.name}, {"identity", opts_.identity}});
        return true;
      }
      if (!announced) log::info("waiting for leadership", {{"lease", opts_.ns + "/" + opts_.name}});
      announced = true;
    } catch (const std::exception& e) {
      log::warn("leader election failed", {{"error", e.what()}});
    }
    sleep_for(stop, opts_.retry_period);
  }
  return false;
}

bool LeaderElector::hold(std::stop_token stop) {
  auto last_ok = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    sleep_for(stop, opts_.retry_period);
    if (stop.stop_requested()) break;
    try {
      if (try_acquire_or_renew()) {
        last_ok = std::chrono::steady_clock::now();
        continue;
      }
      log::error("leadership lost to another operator", {{"lease", opts_.ns + "/" + opts_.name}});
      return false;
    } catch (const std::exception& e) {
      log::warn("lease renewal failed", {{"error", e.what()}});
      if (std::chrono::steady_clock::now() - last_ok > opts_.renew_deadline) return false;
    }
  }
  return true;
}

}  // namespace arl::op
